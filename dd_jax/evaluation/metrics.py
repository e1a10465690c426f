"""Per-image quality metrics on `[H, W, C]` floats in [0, 1], of any size.

SSIM's Gaussian window (11 taps, sigma 1.5) is shrunk along a side shorter
than it, to the largest odd window that fits (1 tap for sides of 1 or 2
pixels), with a note logged once per image size: an 8x1024 image gets a 7x11
window, where scikit-image's structural_similarity refuses it.

Complex images (real/imaginary channel pairs `[H, W, 2C]`, data.complex):
PSNR and SSIM are taken on the `magnitude`; `complex_errors` gives the
relative complex L2 error and the mean phase error where the magnitude is
significant.
"""

import functools

from absl import logging
import jax
import jax.numpy as jnp
import numpy as np

from dd_jax.io import images as images_lib

TRUNCATE = 3.5  # scipy.ndimage / scikit-image: radius int(3.5 sigma + .5)
_NOTED = set()  # image sizes whose shrunk SSIM window was logged


def mse(x: jax.Array, y: jax.Array) -> jax.Array:
  return jnp.mean(jnp.square(x - y))


def psnr(x: jax.Array, y: jax.Array, data_range: float = 1.0) -> jax.Array:
  """10 log10(range^2 / MSE) over all pixels and channels."""
  return 10.0 * jnp.log10(data_range ** 2 / mse(x, y))


def gaussian_window(sigma: float = 1.5, truncate: float = TRUNCATE
                   ) -> np.ndarray:
  """scipy.ndimage's 1-D Gaussian (radius int(truncate*sigma + .5)), sum 1."""
  radius = int(truncate * sigma + 0.5)
  t = np.arange(-radius, radius + 1, dtype=np.float64)
  w = np.exp(-0.5 * (t / sigma) ** 2)
  return w / w.sum()


def window_for(side: int, sigma: float = 1.5) -> np.ndarray:
  """The SSIM window along a side of `side` pixels: gaussian_window(sigma),
  or, when that is longer than the side, the radius r = (side - 1) // 2 one
  (sigma r / 3.5, scikit-image's window for that sigma); one tap below 3."""
  radius = int(TRUNCATE * sigma + 0.5)
  r = min(radius, max((side - 1) // 2, 0))
  if r == radius:
    return gaussian_window(sigma)
  return gaussian_window(r / TRUNCATE) if r else np.ones(1)


def _filter_valid(x: jax.Array, w: jax.Array, w_cols=None) -> jax.Array:
  """Separable 'valid' filtering of `[H, W, C]` with 1-D taps w (rows) and
  w_cols (columns; w when None)."""
  w_cols = w if w_cols is None else w_cols
  n, m = w.shape[0], w_cols.shape[0]
  h = sum(w[i] * x[i:x.shape[0] - n + 1 + i] for i in range(n))
  return sum(w_cols[i] * h[:, i:h.shape[1] - m + 1 + i] for i in range(m))


def as_image(x: jax.Array) -> jax.Array:
  """Any array as `[H, W, C]`: `[N]` -> `[1, N, 1]`, `[H, W]` -> `[H, W, 1]`,
  trailing axes (k-space) folded into C."""
  x = jnp.asarray(x)
  if x.ndim < 2:
    return x.reshape(1, x.size, 1)
  return x.reshape(x.shape[0], x.shape[1], int(np.prod(x.shape[2:])))


def _windows(hw, sigma):
  wh, ww = window_for(hw[0], sigma), window_for(hw[1], sigma)
  full = len(gaussian_window(sigma))
  if (len(wh), len(ww)) != (full, full) and tuple(hw) not in _NOTED:
    _NOTED.add(tuple(hw))
    logging.info('[metrics] SSIM of a %dx%d image: the %dx%d Gaussian window '
                 'is shrunk to %dx%d to fit it.', hw[0], hw[1], full, full,
                 len(wh), len(ww))
  return wh, ww


def ssim_map(x, y, data_range=1.0, sigma=1.5):
  """SSIM map (valid region), Gaussian window (shrunk to fit, see
  window_for), population covariance; `[H, W, C]` (see as_image)."""
  x, y = as_image(x), as_image(y)
  wh, ww = (jnp.asarray(w, x.dtype) for w in _windows(x.shape[:2], sigma))
  f = lambda a: _filter_valid(a, wh, ww)
  c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
  mx, my = f(x), f(y)
  vx = f(x * x) - mx * mx
  vy = f(y * y) - my * my
  cxy = f(x * y) - mx * my
  return ((2 * mx * my + c1) * (2 * cxy + c2) /
          ((mx * mx + my * my + c1) * (vx + vy + c2)))


@functools.partial(jax.jit, static_argnames=('data_range',))
def ssim(x: jax.Array, y: jax.Array, data_range: float = 1.0) -> jax.Array:
  """Mean SSIM, equal to skimage.metrics.structural_similarity with
  gaussian_weights=True, sigma=1.5, use_sample_covariance=False (channels
  averaged). skimage crops the window radius at the borders; 'valid'
  filtering is the same thing. Sides under 11 pixels shrink the window
  (window_for); an empty image gives NaN. Jitted: one compilation per
  image shape, not one per filter tap."""
  if as_image(x).size == 0:
    return jnp.asarray(jnp.nan, jnp.float32)
  return jnp.mean(ssim_map(x, y, data_range))


# --------------------------------------------------------- complex images
# The phase error counts the pixels whose reference magnitude exceeds this
# fraction of its largest one (elsewhere the phase is noise).
PHASE_SUPPORT = 0.1


def magnitude(x: jax.Array) -> jax.Array:
  """|z| `[H, W, C]` of a complex image's channel pairs `[H, W, 2C]`."""
  x = jnp.asarray(x)
  return jnp.sqrt(jnp.square(x[..., 0::2]) + jnp.square(x[..., 1::2]))


def magnitude_psnr(x: jax.Array, y: jax.Array,
                   data_range: float = 1.0) -> jax.Array:
  """`psnr` of the magnitudes of two complex images (channel pairs)."""
  return psnr(magnitude(x), magnitude(y), data_range)


def complex_errors(x, ref, support: float = PHASE_SUPPORT) -> dict:
  """x against the reference ref, both complex images as channel pairs
  `[H, W, 2C]` (float64 on the host):

  rel_l2_error: ||x - ref||_2 / ||ref||_2 over the complex pixels.
  phase_error_rad: the mean of |angle(x conj(ref))| (the phase difference
    wrapped to [0, pi]) over the support |ref| > support * max |ref|.
  phase_support: the fraction of pixels in that support;
  support_threshold: `support`.
  NaN where undefined (a zero reference).
  """
  z = images_lib.to_complex(np.asarray(x, np.float64))
  r = images_lib.to_complex(np.asarray(ref, np.float64))
  norm, top = np.linalg.norm(r), np.abs(r).max(initial=0.0)
  rel = np.linalg.norm(z - r) / norm if norm > 0 else np.nan
  inside = np.abs(r) > support * top if top > 0 else np.zeros(r.shape, bool)
  dphi = np.abs(np.angle(z * np.conj(r)))
  return {'rel_l2_error': float(rel),
          'phase_error_rad': (float(dphi[inside].mean()) if inside.any()
                              else float('nan')),
          'phase_support': float(inside.mean()),
          'support_threshold': float(support)}
