"""PSNR and SSIM against scikit-image."""

from absl.testing import absltest
from absl.testing import parameterized
import jax.numpy as jnp
import numpy as np
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


if __name__ == '__main__':
  absltest.main()
