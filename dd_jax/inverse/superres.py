"""Super-resolution: antialiased downsampling as two small matrices."""

import math

import jax.numpy as jnp
import numpy as np

from dd_jax.errors import UserError
from dd_jax.inverse.base import Operator, no_aux


def lanczos2_kernel(factor: int) -> np.ndarray:
  """The 1-D Lanczos-2 kernel of the DIP/DD reference (size 4*factor, phase .5).

  The reference's 2-D kernel is the outer product of this one with itself.
  """
  size = 4 * factor
  center = (size + 2) / 2.0  # (kernel_width + 1) / 2 with kernel_width = 4f+1.
  taps = np.empty(size, np.float64)
  for i in range(1, size + 1):
    d = abs(i + 0.5 - center) / factor
    taps[i - 1] = 1.0 if d == 0 else (
        2 * math.sin(math.pi * d) * math.sin(math.pi * d / 2) /
        (math.pi ** 2 * d ** 2))
  return taps / taps.sum()


def downsample_matrix(n: int, factor: int) -> np.ndarray:
  """`[n / factor, n]` matrix: Lanczos-2 filter, stride `factor`, edge
  replication padding chosen so the output has exactly n / factor samples."""
  taps = lanczos2_kernel(factor)
  pad_lo = (len(taps) - factor) // 2
  m = np.zeros((n // factor, n), np.float64)
  for o in range(n // factor):
    for t, v in enumerate(taps):
      src = min(max(o * factor + t - pad_lo, 0), n - 1)
      m[o, src] += v
  return m


def cubic(t: np.ndarray, a: float = -0.5) -> np.ndarray:
  """Keys' cubic convolution kernel (a = -0.5: Matlab/PIL bicubic)."""
  t = np.abs(t)
  return np.where(t <= 1, (a + 2) * t**3 - (a + 3) * t**2 + 1,
                  np.where(t < 2, a * t**3 - 5 * a * t**2 + 8 * a * t - 4 * a,
                           0.0))


def bicubic_matrix(n: int, factor: int) -> np.ndarray:
  """`[n / factor, n]` antialiased bicubic downsampling (the kernel stretched
  by `factor`, as Matlab imresize and PIL do), edge replication."""
  m = np.zeros((n // factor, n), np.float64)
  for o in range(n // factor):
    center = (o + 0.5) * factor - 0.5
    src = np.arange(math.floor(center - 2 * factor),
                    math.ceil(center + 2 * factor) + 1)
    w = cubic((src - center) / factor)
    for s, v in zip(np.clip(src, 0, n - 1), w / w.sum()):
      m[o, s] += v
  return m


KERNELS = {'lanczos2': downsample_matrix, 'bicubic': bicubic_matrix}


def downsample(image_shape, *, factor: int = 4,
               kernel: str = 'lanczos2') -> Operator:
  """Antialiased downsampling of `[H, W, C]` by `factor` (2, 3, 4, 8...) with
  `kernel` 'lanczos2' (the reference's) or 'bicubic'."""
  f = int(factor)
  h, w = image_shape[:2]
  if f < 1 or h % f or w % f:
    raise UserError(f'Image size {h}x{w} is not divisible by the '
                    f'super-resolution factor {f}; crop or resize the image.')
  if kernel not in KERNELS:
    raise UserError(f'Unknown operator.downsample.kernel {kernel!r}; choose '
                    f'one of {sorted(KERNELS)}.')
  mh = jnp.asarray(KERNELS[kernel](h, f), jnp.float32)
  mw = jnp.asarray(KERNELS[kernel](w, f), jnp.float32)

  def forward(x, aux):
    del aux
    return jnp.einsum('ih,hwc,jw->ijc', mh, x, mw)

  return Operator('downsample', forward, no_aux,
                  (h // f, w // f, image_shape[2]), tuple(image_shape))
