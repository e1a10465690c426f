"""Losses against scikit-image, scipy/numpy float64 formulas and closed forms."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.ndimage
import skimage.metrics

from dd_jax.inverse import losses
from dd_jax.errors import UserError


def pair(shape, seed, noise=0.1):
  rng = np.random.default_rng(seed)
  yy, xx = np.mgrid[0:shape[0], 0:shape[1]] / shape[0]
  base = 0.5 + 0.3 * np.sin(6 * xx + 3 * yy)[..., None] * np.linspace(
      0.5, 1, shape[2])
  x = np.clip(base + noise * rng.standard_normal(shape), 0, 1)
  y = np.clip(base + noise * rng.standard_normal(shape), 0, 1)
  return x.astype(np.float32), y.astype(np.float32)


def test_mse_l1_weighted_by_observed():
  x, y = pair((12, 12, 3), 0)
  w = (np.random.default_rng(1).random((12, 12, 1)) < 0.4).astype(np.float32)
  wb = np.broadcast_to(w, x.shape).astype(bool)
  d = x.astype(np.float64) - y
  assert abs(float(losses.mse(x, y, w)) - np.mean(d[wb] ** 2)) < 1e-7
  assert abs(float(losses.l1(x, y, w)) - np.mean(np.abs(d[wb]))) < 1e-6
  assert abs(float(losses.mse(x, y)) - np.mean(d ** 2)) < 1e-7


@pytest.mark.parametrize('channels', [1, 3])
def test_ssim_loss_matches_skimage(channels):
  x, y = pair((40, 36, channels), 2)
  ref = skimage.metrics.structural_similarity(
      x, y, gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
      data_range=1.0, channel_axis=2)
  assert abs(float(losses.ssim(jnp.asarray(x), jnp.asarray(y))) -
             (1 - ref)) < 1e-4


def ms_ssim_numpy(x, y, weights=losses.MS_SSIM_WEIGHTS):
  """Wang et al. 2003 in float64 with scipy's Gaussian filter (radius 5)."""
  x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
  c1, c2 = 0.01 ** 2, 0.03 ** 2
  filt = lambda a: scipy.ndimage.gaussian_filter(
      a, (1.5, 1.5, 0), truncate=3.5)[5:-5, 5:-5]
  out = 1.0
  for j, wj in enumerate(weights):
    mx, my = filt(x), filt(y)
    vx, vy = filt(x * x) - mx ** 2, filt(y * y) - my ** 2
    cxy = filt(x * y) - mx * my
    cs = (2 * cxy + c2) / (vx + vy + c2)
    lum = (2 * mx * my + c1) / (mx ** 2 + my ** 2 + c1)
    if j == len(weights) - 1:
      out *= np.mean(lum * cs) ** wj
    else:
      out *= np.mean(cs) ** wj
      x = (x[0::2, 0::2] + x[1::2, 0::2] + x[0::2, 1::2] + x[1::2, 1::2]) / 4
      y = (y[0::2, 0::2] + y[1::2, 0::2] + y[0::2, 1::2] + y[1::2, 1::2]) / 4
  return out


def test_ms_ssim_matches_wang_formula():
  x, y = pair((192, 176, 2), 3, noise=0.15)
  ref = ms_ssim_numpy(x, y)
  assert 0.3 < ref < 0.99
  got = losses.ms_ssim_value(jnp.asarray(x), jnp.asarray(y))
  assert abs(float(got) - ref) < 1e-4
  assert abs(sum(losses.MS_SSIM_WEIGHTS) - 1.0) < 1e-3


def test_ms_ssim_small_images_finite_with_gradients():
  x, y = pair((32, 32, 3), 4, noise=0.3)
  loss, grad = jax.value_and_grad(losses.ms_ssim)(jnp.asarray(x),
                                                  jnp.asarray(y))
  assert 0 < float(loss) < 1 and np.all(np.isfinite(grad))
  assert float(losses.ms_ssim(jnp.asarray(y), jnp.asarray(y))) < 1e-6


def test_zhao_mix_and_weighted_sums():
  x, y = pair((48, 48, 3), 5)
  x, y = jnp.asarray(x), jnp.asarray(y)
  mix = losses.get_loss('ms-ssim-l1')(x, y)
  gl1 = losses.gaussian_l1(x, y)
  assert abs(float(mix) - (0.84 * float(losses.ms_ssim(x, y)) +
                           0.16 * float(gl1))) < 1e-6
  # The Gaussian-weighted L1 is the valid-window mean of filtered |x - y|.
  ref = scipy.ndimage.gaussian_filter(np.abs(np.asarray(x, np.float64) - y),
                                      (1.5, 1.5, 0), truncate=3.5)[5:-5, 5:-5]
  assert abs(float(gl1) - ref.mean()) < 1e-6
  total = losses.get_loss('0.3*mse + 0.7*l1')(x, y)
  assert abs(float(total) - (0.3 * float(losses.mse(x, y)) +
                             0.7 * float(losses.l1(x, y)))) < 1e-7
  assert losses.get_loss('mse') is losses.mse


@pytest.mark.parametrize('spec', ['msssim', 'mse+', '2*nope', 'x*mse'])
def test_bad_loss_names(spec):
  with pytest.raises(UserError, match='fit.loss'):
    losses.get_loss(spec)


def test_ssim_needs_images():
  with pytest.raises(UserError, match='mse or l1'):
    losses.ssim(jnp.zeros((10,)), jnp.zeros((10,)))


def test_losses_jit_equals_eager():
  x, y = pair((32, 32, 3), 6)
  w = jnp.asarray(np.random.default_rng(0).random((32, 32, 1)) < 0.5,
                  jnp.float32)
  for name in losses.LOSSES:
    fn = losses.get_loss(name)
    np.testing.assert_allclose(jax.jit(fn)(x, y, w), fn(x, y, w), rtol=1e-5)
