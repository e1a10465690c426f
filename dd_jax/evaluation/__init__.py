"""Scoring restorations: image metrics and classical baselines."""
