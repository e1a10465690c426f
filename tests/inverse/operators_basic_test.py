"""The foundation operators: identity, pixel mask, Lanczos-2 downsampling."""

import math

from absl.testing import absltest
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from dd_jax.inverse import operators
from dd_jax.errors import UserError


def cfg(**kw):
  base = dict(name='identity', noise='gaussian', sigma=0.1, clip=True,
              factor=4, mask='random', observed=0.5, block=0.25)
  base.update(kw)
  return ml_collections.ConfigDict(base)


def dip_lanczos2_2d(factor):
  """The 2-D kernel exactly as the DIP/DD reference `get_kernel` loops it."""
  kernel_width = 4 * factor + 1
  kernel = np.zeros([kernel_width - 1, kernel_width - 1])
  center = (kernel_width + 1) / 2.
  support = 2
  for i in range(1, kernel.shape[0] + 1):
    for j in range(1, kernel.shape[1] + 1):
      di = abs(i + 0.5 - center) / factor
      dj = abs(j + 0.5 - center) / factor
      val = 1
      if di != 0:
        val = val * support * math.sin(math.pi * di) * math.sin(
            math.pi * di / support) / (math.pi * math.pi * di * di)
      if dj != 0:
        val = val * support * math.sin(math.pi * dj) * math.sin(
            math.pi * dj / support) / (math.pi * math.pi * dj * dj)
      kernel[i - 1][j - 1] = val
  return kernel / kernel.sum()


def np_downsample(x, factor):
  """Reference: replication pad, 2-D Lanczos-2 conv, stride factor (float64)."""
  k = dip_lanczos2_2d(factor)
  pad = int((k.shape[0] - factor) / 2.)
  xp = np.pad(x, ((pad, pad), (pad, pad), (0, 0)), mode='edge')
  h, w = x.shape[0] // factor, x.shape[1] // factor
  out = np.zeros((h, w, x.shape[2]))
  for i in range(h):
    for j in range(w):
      patch = xp[i * factor:i * factor + k.shape[0],
                 j * factor:j * factor + k.shape[1]]
      out[i, j] = np.einsum('hwc,hw->c', patch, k)
  return out


class OperatorsTest(absltest.TestCase):

  def test_identity(self):
    op = operators.make_operator(cfg(), (8, 8, 3))
    x = jnp.ones((8, 8, 3)) * 0.3
    np.testing.assert_array_equal(op.forward(x, op.make_aux(None, 0)), x)

  def test_random_mask_fraction_and_forward(self):
    op = operators.make_operator(cfg(name='mask', observed=0.3), (64, 64, 3))
    aux = op.make_aux(jax.random.key(0), 0)
    self.assertAlmostEqual(float(aux['mask'].mean()), 0.3, delta=0.03)
    x = jax.random.uniform(jax.random.key(1), (64, 64, 3))
    y = op.forward(x, aux)
    np.testing.assert_array_equal(np.asarray(y)[~np.asarray(aux['mask'])], 0)
    np.testing.assert_array_equal(np.asarray(y)[np.asarray(aux['mask'])],
                                  np.asarray(x)[np.asarray(aux['mask'])])

  def test_block_mask(self):
    op = operators.make_operator(cfg(name='mask', mask='block', block=0.5),
                                 (16, 16, 1))
    m = np.asarray(op.make_aux(None, 0)['mask'])
    self.assertEqual(m.sum(), 16 * 16 - 8 * 8)
    self.assertFalse(m[8, 8])

  def test_lanczos_1d_is_the_reference_kernel_factor(self):
    for f in (2, 4):
      k1 = operators.lanczos2_kernel(f)
      np.testing.assert_allclose(np.outer(k1, k1), dip_lanczos2_2d(f),
                                 atol=1e-12)

  def test_downsample_matches_reference_conv(self):
    for f in (2, 4):
      x = np.random.default_rng(f).uniform(size=(32, 24, 3))
      op = operators.make_operator(cfg(name='downsample', factor=f),
                                   (32, 24, 3))
      self.assertEqual(op.measurement_shape, (32 // f, 24 // f, 3))
      y = op.forward(jnp.asarray(x, jnp.float32), {})
      np.testing.assert_allclose(y, np_downsample(x, f), atol=1e-5)

  def test_downsample_adjoint(self):
    op = operators.make_operator(cfg(name='downsample', factor=2), (16, 16, 2))
    x = jax.random.normal(jax.random.key(0), (16, 16, 2))
    y = jax.random.normal(jax.random.key(1), (8, 8, 2))
    (aty,) = jax.linear_transpose(lambda v: op.forward(v, {}), x)(y)
    self.assertAlmostEqual(float(jnp.vdot(op.forward(x, {}), y)),
                           float(jnp.vdot(x, aty)), places=3)

  def test_indivisible_size_is_user_error(self):
    with self.assertRaisesRegex(UserError, 'not divisible'):
      operators.make_operator(cfg(name='downsample', factor=3), (16, 16, 3))

  def test_unknown_name_lists_choices(self):
    with self.assertRaisesRegex(UserError, 'identity'):
      operators.make_operator(cfg(name='blurr'), (8, 8, 3))

  def test_gaussian_noise_statistics_and_clip(self):
    x = jnp.full((128, 128, 3), 0.5)
    y = operators.add_noise(jax.random.key(0), x, cfg(sigma=0.1))
    self.assertAlmostEqual(float(jnp.std(y - x)), 0.1, delta=0.003)
    y = operators.add_noise(jax.random.key(0), x, cfg(sigma=2.0))
    self.assertGreaterEqual(float(y.min()), 0.0)
    self.assertLessEqual(float(y.max()), 1.0)
    same = operators.add_noise(jax.random.key(0), x, cfg(sigma=2.0))
    np.testing.assert_array_equal(y, same)


if __name__ == '__main__':
  absltest.main()
