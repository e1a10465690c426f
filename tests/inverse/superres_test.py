"""Super-resolution: Lanczos-2 (the reference's kernel) and bicubic."""

import math

from absl.testing import absltest
from absl.testing import parameterized
import jax
import jax.numpy as jnp
import numpy as np

from dd_jax.errors import UserError
from dd_jax.inverse import superres


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


class SuperresTest(parameterized.TestCase):

  def test_lanczos_1d_is_the_reference_kernel_factor(self):
    for f in (2, 4):
      k1 = superres.lanczos2_kernel(f)
      np.testing.assert_allclose(np.outer(k1, k1), dip_lanczos2_2d(f),
                                 atol=1e-12)

  def test_downsample_matches_reference_conv(self):
    for f in (2, 4):
      x = np.random.default_rng(f).uniform(size=(32, 24, 3))
      op = superres.downsample((32, 24, 3), factor=f)
      self.assertEqual(op.measurement_shape, (32 // f, 24 // f, 3))
      y = op.forward(jnp.asarray(x, jnp.float32), {})
      np.testing.assert_allclose(y, np_downsample(x, f), atol=1e-5)

  def test_downsample_adjoint(self):
    op = superres.downsample((16, 16, 2), factor=2)
    x = jax.random.normal(jax.random.key(0), (16, 16, 2))
    y = jax.random.normal(jax.random.key(1), (8, 8, 2))
    (aty,) = jax.linear_transpose(lambda v: op.forward(v, {}), x)(y)
    self.assertAlmostEqual(float(jnp.vdot(op.forward(x, {}), y)),
                           float(jnp.vdot(x, aty)), places=3)

  def test_indivisible_size_is_user_error(self):
    with self.assertRaisesRegex(UserError, 'not divisible'):
      superres.downsample((16, 16, 3), factor=3)

  def test_unknown_kernel_lists_choices(self):
    with self.assertRaisesRegex(UserError, 'bicubic'):
      superres.downsample((16, 16, 3), factor=2, kernel='lanczos3')

  def test_bicubic_matches_pil_interior(self):
    from PIL import Image
    x = np.asarray(jax.random.uniform(jax.random.key(5), (48, 48)),
                   np.float32)
    for f in (2, 3, 4):
      ref = np.asarray(Image.fromarray(x, 'F').resize((48 // f, 48 // f),
                                                      Image.BICUBIC))
      m = superres.bicubic_matrix(48, f)
      out = m @ x.astype(np.float64) @ m.T
      np.testing.assert_allclose(out[2:-2, 2:-2], ref[2:-2, 2:-2], atol=1e-5)

  @parameterized.product(kernel=['lanczos2', 'bicubic'], factor=[2, 3, 4, 8])
  def test_downsample_factors_keep_constants(self, kernel, factor):
    side = 24 * factor // np.gcd(24, factor)
    shape = (side, side, 1)
    op = superres.downsample(shape, factor=factor, kernel=kernel)
    y = op.forward(jnp.full(shape, 0.3), {})
    self.assertEqual(y.shape, (side // factor, side // factor, 1))
    np.testing.assert_allclose(y, 0.3, atol=1e-6)


if __name__ == '__main__':
  absltest.main()
