"""Deblurring: y = k * x, a true convolution of every channel, same size."""

import math
import os

import jax
import jax.numpy as jnp
import numpy as np

from dd_jax.errors import UserError
from dd_jax.inverse.base import Operator, no_aux
from dd_jax.io import images as data_lib

# Boundary name -> jnp.pad mode.
BOUNDARIES = {'circular': 'wrap', 'reflect': 'symmetric', 'zero': 'constant'}
# Kernel side for size=0 (gaussian: 2 ceil(3 sigma) + 1).
DEFAULT_SIZES = {'box': 5, 'motion': 9}


def gaussian_kernel(sigma: float, size: int = 0) -> np.ndarray:
  size = size or 2 * math.ceil(3 * sigma) + 1
  t = np.arange(size) - (size - 1) / 2
  g = np.exp(-0.5 * (t / sigma) ** 2)
  k = np.outer(g, g)
  return k / k.sum()


def motion_kernel(length: int, angle_deg: float) -> np.ndarray:
  """A line of `length` pixels at `angle_deg`, bilinearly rasterized."""
  size = length if length % 2 else length + 1
  k = np.zeros((size, size))
  c = (size - 1) / 2
  a = math.radians(angle_deg)
  for t in np.linspace(-(length - 1) / 2, (length - 1) / 2, 4 * length):
    y, x = c - t * math.sin(a), c + t * math.cos(a)
    y0, x0 = int(math.floor(y)), int(math.floor(x))
    for dy, dx in ((0, 0), (0, 1), (1, 0), (1, 1)):
      yy, xx = y0 + dy, x0 + dx
      if 0 <= yy < size and 0 <= xx < size:
        k[yy, xx] += (1 - abs(y - yy)) * (1 - abs(x - xx))
  return k / k.sum()


def load_kernel(path: str) -> np.ndarray:
  """A blur kernel from an image (gray levels) or .npy file, summing to 1,
  zero-padded to odd sides so it has a centre pixel."""
  if path.endswith('.npy'):
    try:
      k = np.load(path).astype(np.float64)
    except OSError as e:
      raise UserError(f'Cannot read kernel file {path!r}: {e}') from None
  else:
    k = data_lib.load_image(path, 'gray')[..., 0].astype(np.float64)
  if k.ndim != 2 or k.min() < 0 or k.sum() <= 0:
    raise UserError(f'Kernel {path!r} must be a 2-D array of nonnegative '
                    f'values with a positive sum.')
  k = np.pad(k, ((0, 1 - k.shape[0] % 2), (0, 1 - k.shape[1] % 2)))
  return k / k.sum()


def kernel(*, kind: str = 'gaussian', sigma: float = 1.6, size: int = 0,
           motion_angle: float = 30.0) -> np.ndarray:
  """The 2-D blur kernel: 'gaussian' (`sigma`), 'box', 'motion' (`size`
  pixels at `motion_angle` degrees) or a kernel file (image or .npy).
  size=0: 2 ceil(3 sigma) + 1 for gaussian, 5 for box, 9 for motion."""
  size = int(size) or DEFAULT_SIZES.get(kind, 0)
  if kind == 'gaussian':
    return gaussian_kernel(float(sigma), size)
  if kind == 'box':
    return np.full((size, size), 1.0 / size**2)
  if kind == 'motion':
    return motion_kernel(size, float(motion_angle))
  if os.path.isfile(kind):
    return load_kernel(kind)
  raise UserError(f"operator.blur.kind {kind!r} is neither 'gaussian', "
                  f"'box', 'motion' nor a kernel file.")


def blur(image_shape, *, kind: str = 'gaussian', sigma: float = 1.6,
         size: int = 0, motion_angle: float = 30.0,
         boundary: str = 'circular') -> Operator:
  """Blur of `[H, W, C]` by `kernel(kind=..., ...)`, every channel with the
  same kernel. boundary: 'circular' (periodic), 'reflect' (half-sample
  symmetric, like scipy 'reflect') or 'zero'."""
  k = kernel(kind=kind, sigma=sigma, size=size, motion_angle=motion_angle)
  if boundary not in BOUNDARIES:
    raise UserError(f'Unknown operator.blur.boundary {boundary!r}; choose one '
                    f'of {sorted(BOUNDARIES)}.')
  kh, kw = k.shape
  if kh > image_shape[0] or kw > image_shape[1]:
    raise UserError(f'Blur kernel {kh}x{kw} is larger than the image.')
  c = image_shape[2]
  # conv_general_dilated correlates: flip for a true convolution.
  kern = jnp.asarray(np.tile(k[::-1, ::-1, None, None], (1, 1, 1, c)),
                     jnp.float32)
  pads = ((kh // 2, kh // 2), (kw // 2, kw // 2), (0, 0))

  def forward(x, aux):
    del aux
    xp = jnp.pad(x, pads, mode=BOUNDARIES[boundary])
    y = jax.lax.conv_general_dilated(
        xp[None], kern, (1, 1), 'VALID',
        dimension_numbers=('NHWC', 'HWIO', 'NHWC'), feature_group_count=c,
        precision=jax.lax.Precision.HIGHEST)
    return y[0]

  return Operator('blur', forward, no_aux, tuple(image_shape),
                  tuple(image_shape))
