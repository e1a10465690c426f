"""Per-image quality metrics on `[H, W, C]` floats in [0, 1]."""

import jax
import jax.numpy as jnp
import numpy as np


def mse(x: jax.Array, y: jax.Array) -> jax.Array:
  return jnp.mean(jnp.square(x - y))


def psnr(x: jax.Array, y: jax.Array, data_range: float = 1.0) -> jax.Array:
  """10 log10(range^2 / MSE) over all pixels and channels."""
  return 10.0 * jnp.log10(data_range ** 2 / mse(x, y))


def gaussian_window(sigma: float = 1.5, truncate: float = 3.5) -> np.ndarray:
  """scipy.ndimage's 1-D Gaussian (radius int(truncate*sigma + .5)), sum 1."""
  radius = int(truncate * sigma + 0.5)
  t = np.arange(-radius, radius + 1, dtype=np.float64)
  w = np.exp(-0.5 * (t / sigma) ** 2)
  return w / w.sum()


def _filter_valid(x: jax.Array, w: jax.Array) -> jax.Array:
  """Separable 'valid' filtering of `[H, W, C]` with 1-D taps w."""
  n = w.shape[0]
  h = sum(w[i] * x[i:x.shape[0] - n + 1 + i] for i in range(n))
  return sum(w[i] * h[:, i:h.shape[1] - n + 1 + i] for i in range(n))


def ssim_map(x, y, data_range=1.0, sigma=1.5):
  """SSIM map (valid region), Gaussian window, population covariance."""
  w = jnp.asarray(gaussian_window(sigma), x.dtype)
  c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
  mx, my = _filter_valid(x, w), _filter_valid(y, w)
  vx = _filter_valid(x * x, w) - mx * mx
  vy = _filter_valid(y * y, w) - my * my
  cxy = _filter_valid(x * y, w) - mx * my
  return ((2 * mx * my + c1) * (2 * cxy + c2) /
          ((mx * mx + my * my + c1) * (vx + vy + c2)))


def ssim(x: jax.Array, y: jax.Array, data_range: float = 1.0) -> jax.Array:
  """Mean SSIM, equal to skimage.metrics.structural_similarity with
  gaussian_weights=True, sigma=1.5, use_sample_covariance=False (channels
  averaged). skimage crops the window radius at the borders; 'valid'
  filtering is the same thing."""
  return jnp.mean(ssim_map(x, y, data_range))
