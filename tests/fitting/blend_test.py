"""fit.blend: a share of the noisy image mixed back into the result."""

from absl.testing import absltest
import numpy as np

from configs import denoise
from dd_jax import run as run_lib
from dd_jax.errors import UserError
from dd_jax.fitting import engine
from dd_jax.fitting import stopping


def _config(**fit):
  c = denoise.get_config('test')
  c.fit.steps, c.fit.log_every = 3, 3
  c.data.size = 32
  c.fit.update(fit)
  return c


class BlendTest(absltest.TestCase):

  def test_blend_is_the_convex_mix_of_the_fit_and_the_measurement(self):
    x = np.random.default_rng(0).uniform(size=(1, 32, 32, 3)).astype(
        np.float32)
    plain = engine.fit_images(_config(), clean=x, verbose=False)[0]
    mixed = engine.fit_images(_config(blend=0.2), clean=x, verbose=False)[0]
    np.testing.assert_array_equal(mixed['unblended'], plain['restored'])
    np.testing.assert_allclose(
        mixed['restored'], 0.8 * plain['restored'] + 0.2 * plain['y'],
        atol=1e-6)
    self.assertEqual(mixed['blend'], 0.2)
    self.assertAlmostEqual(mixed['psnr_unblended'], plain['psnr'], places=5)
    err = np.mean((mixed['restored'] - x[0]) ** 2)
    self.assertAlmostEqual(mixed['psnr'], -10 * np.log10(err), places=3)

  def test_blend_ref_sigma_scales_the_share_by_the_estimated_noise(self):
    y = np.random.default_rng(1).normal(0.5, 0.1, (32, 32, 3))
    sigma_255 = 255 * stopping.estimate_sigma(y)
    fit = _config(blend=0.05, blend_ref_sigma=25.0).fit
    self.assertAlmostEqual(engine.blend_weight(fit, y),
                           0.05 * 25 / sigma_255, places=6)
    self.assertEqual(engine.blend_weight(_config(blend=0.05).fit, y), 0.05)
    self.assertEqual(engine.blend_weight(_config().fit, y), 0.0)

  def test_blend_needs_denoising_and_a_share_in_range(self):
    c = _config(blend=0.1)
    c.operator.name = 'superres'
    with self.assertRaisesRegex(UserError, 'fit.blend'):
      run_lib.check_settings(c)
    with self.assertRaisesRegex(UserError, 'fit.blend'):
      run_lib.check_settings(_config(blend=1.5))


if __name__ == '__main__':
  absltest.main()
