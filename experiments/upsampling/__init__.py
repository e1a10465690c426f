"""Upsampling kinds (paper sec. 6.2) and the paper's Fig. 5."""
