"""p x p convolutions vs 1x1 at equal parameter counts (paper sec. 3.1)."""
