"""Inverse problems: forward operators, noise models and fit losses."""
