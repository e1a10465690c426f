"""The memory guard and images_per_call (fewer images per compiled call)."""

from unittest import mock

from absl.testing import absltest
import numpy as np

from configs import denoise
from dd_jax import fit_images
from dd_jax.errors import UserError
from dd_jax.fitting import memory
from dd_jax.io import images


def setup():
  c = denoise.get_config('test')
  c.fit.steps, c.fit.log_every = 4, 2
  return c, [images.synthetic_image(i, (32, 32)) for i in range(2)]


class MemoryGuardTest(absltest.TestCase):

  def test_step_bytes_is_xla_estimate(self):
    import jax
    import jax.numpy as jnp
    compiled = jax.jit(lambda x: x * 2).lower(jnp.ones((256, 256))).compile()
    self.assertGreaterEqual(memory.step_bytes(compiled), 2 * 256 * 256 * 4)
    self.assertGreater(memory.free_bytes(), 0)

  def test_cpu_falls_back_to_one_by_one_then_refuses(self):
    c, xs = setup()
    together = fit_images(c, clean=xs, verbose=False)
    sizes = []

    def fake_need(compiled):
      sizes.append(len(sizes))
      return 10 if len(sizes) == 1 else 1  # the vmapped call too big
    with mock.patch.object(memory, 'step_bytes', fake_need), \
        mock.patch.object(memory, 'free_bytes', lambda d=None: 5):
      fallback = fit_images(c, clean=xs, verbose=False)
    self.assertLen(sizes, 2)  # compiled again, one by one
    for a, b in zip(together, fallback):
      np.testing.assert_allclose(a['restored'], b['restored'], atol=1e-5)
    with mock.patch.object(memory, 'free_bytes', lambda d=None: 1000):
      with self.assertRaisesRegex(UserError, 'images_per_call=1 .*model.k'):
        fit_images(c, clean=xs, verbose=False)
    c.fit.images_per_call = 1
    alone = fit_images(c, clean=xs, verbose=False)
    self.assertLen(alone.groups, 2)
    for a, b in zip(together, alone):
      np.testing.assert_allclose(a['restored'], b['restored'], atol=1e-5)


if __name__ == '__main__':
  absltest.main()
