"""PSNR and SSIM against scikit-image, on images of any shape."""

import logging

from absl.testing import absltest
from absl.testing import parameterized
import jax
import jax.numpy as jnp
import numpy as np
from scipy import ndimage
from skimage import metrics as skm

from dd_jax.evaluation import metrics


class MetricsTest(parameterized.TestCase):

  def _pair(self, c, seed=0, hw=(40, 48)):
    rng = np.random.default_rng(seed)
    x = rng.uniform(size=(*hw, c)).astype(np.float32)
    y = np.clip(x + 0.1 * rng.normal(size=x.shape), 0, 1).astype(np.float32)
    return x, y

  @parameterized.parameters(1, 3)
  def test_psnr_matches_skimage(self, c):
    x, y = self._pair(c)
    self.assertAlmostEqual(float(metrics.psnr(jnp.asarray(y), jnp.asarray(x))),
                           skm.peak_signal_noise_ratio(x, y, data_range=1),
                           places=4)

  @parameterized.parameters(1, 3, 4)
  def test_ssim_matches_skimage(self, c):
    x, y = self._pair(c, seed=c)
    want = skm.structural_similarity(
        x.astype(np.float64), y.astype(np.float64), gaussian_weights=True,
        sigma=1.5, use_sample_covariance=False, data_range=1, channel_axis=2)
    got = float(metrics.ssim(jnp.asarray(y), jnp.asarray(x)))
    self.assertAlmostEqual(got, want, delta=1e-4)

  def test_ssim_identity_is_one(self):
    x, _ = self._pair(3)
    self.assertAlmostEqual(float(metrics.ssim(x, x)), 1.0, places=5)

  @parameterized.parameters((7, 7, 1), (10, 10, 3), (3, 3, 1))
  def test_shrunk_window_matches_skimage(self, h, w, c):
    """Sides under 11: the window of radius (side - 1) // 2 is scikit-image's
    for sigma = radius / 3.5."""
    x, y = self._pair(c, seed=h, hw=(h, w))
    sigma = ((min(h, w) - 1) // 2) / 3.5
    want = skm.structural_similarity(
        x.astype(np.float64), y.astype(np.float64), gaussian_weights=True,
        sigma=sigma, use_sample_covariance=False, data_range=1,
        channel_axis=2)
    self.assertAlmostEqual(float(metrics.ssim(y, x)), want, delta=1e-4)

  @parameterized.parameters((8, 64), (1, 30), (30, 2))
  def test_any_shape_matches_a_float64_reference(self, h, w):
    """Each side its own window (scipy's Gaussian, valid region)."""
    x, y = self._pair(2, seed=w, hw=(h, w))
    taps = [len(metrics.window_for(n)) for n in (h, w)]
    sig = [(t // 2) / 3.5 if t < 11 else 1.5 for t in taps]
    filt = lambda a: ndimage.gaussian_filter(
        a.astype(np.float64), (sig[0], sig[1], 0), truncate=3.5)
    ry, rx = taps[0] // 2, taps[1] // 2
    crop = lambda a: a[ry:a.shape[0] - ry, rx:a.shape[1] - rx]
    mx, my = filt(x), filt(y)
    vx, vy, cxy = filt(x * x) - mx**2, filt(y * y) - my**2, filt(x * y) - mx * my
    c1, c2 = 0.01**2, 0.03**2
    want = np.mean(crop((2 * mx * my + c1) * (2 * cxy + c2) /
                        ((mx**2 + my**2 + c1) * (vx + vy + c2))))
    self.assertAlmostEqual(float(metrics.ssim(x, y)), want, delta=1e-4)

  @parameterized.parameters((8, 1024, 3), (1, 1, 3), (7, 1, 4))
  def test_every_metric_on_odd_shapes(self, h, w, c):
    x, y = self._pair(c, seed=1, hw=(h, w))
    for f in (metrics.ssim, metrics.psnr, metrics.mse):
      self.assertTrue(np.isfinite(float(f(x, y))), f.__name__)
    self.assertAlmostEqual(float(metrics.ssim(x, x)), 1.0, places=5)
    self.assertAlmostEqual(float(metrics.psnr(jnp.asarray(y), jnp.asarray(x))),
                           skm.peak_signal_noise_ratio(x, y, data_range=1),
                           places=3)

  def test_jit_equals_eager_on_a_shrunk_window(self):
    x, y = self._pair(2, seed=3, hw=(5, 16))
    self.assertAlmostEqual(float(jax.jit(metrics.ssim)(x, y)),
                           float(metrics.ssim(x, y)), places=5)

  def test_other_layouts_and_empty(self):
    x, y = self._pair(1, hw=(1, 30))
    self.assertAlmostEqual(float(metrics.ssim(x[..., 0], y[..., 0])),
                           float(metrics.ssim(x, y)), places=6)
    self.assertTrue(np.isfinite(float(metrics.ssim(x.reshape(-1),
                                                   y.reshape(-1)))))
    self.assertTrue(np.isnan(float(metrics.ssim(np.zeros((0, 4, 3)),
                                                 np.zeros((0, 4, 3))))))

  def test_shrunk_window_noted_once_per_size(self):
    x, y = self._pair(1, hw=(6, 64))
    metrics._NOTED.discard((6, 64))  # pylint: disable=protected-access
    with self.assertLogs('absl', logging.INFO) as logs:
      metrics.ssim(x, y)
      metrics.ssim(y, x)
      logging.getLogger('absl').info('end')
    notes = [m for m in logs.output if 'shrunk to 5x11' in m]
    self.assertLen(notes, 1)


if __name__ == '__main__':
  absltest.main()
