"""The authors' PyTorch fit step, timed on this machine in the same run.

`step_seconds(spec, y)` builds the reference deep decoder of
benchmarks/compare_torch.py (REFERENCE.md section 1: 1x1 conv, bilinear x2,
ReLU, BatchNorm, sigmoid) with our model's widths, and times its Adam step
on MSE with the reference fit's best-iterate copy: the median over `calls`
calls of `steps` steps, after a warm-up. None without torch (the `bench`
extra: pip install -e ".[bench]").
"""

import importlib.util
import statistics

import jax


def available() -> bool:
  return importlib.util.find_spec('torch') is not None


def step_seconds(spec, y, steps: int = 10, calls: int = 3,
                 seed: int = 0) -> float | None:
  """Median seconds per step of the authors' fit of `y` with `spec`'s
  widths (a deep decoder with 1x1 convs), or None without torch."""
  if not available():
    return None
  from benchmarks import compare_torch  # torch is imported there
  fit = compare_torch.TorchFit(spec, jax.random.key(seed), y, steps)
  fit.run()  # warm-up
  return statistics.median(fit.run() for _ in range(calls))
