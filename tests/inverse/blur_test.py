"""Deblurring kernels and boundaries against scipy.ndimage.convolve."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.ndimage

from dd_jax.errors import UserError
from dd_jax.inverse import blur

SHAPE = (16, 16, 3)


@pytest.mark.parametrize('boundary,mode', [('circular', 'wrap'),
                                           ('reflect', 'reflect'),
                                           ('zero', 'constant')])
@pytest.mark.parametrize('kind', ['gaussian', 'motion'])
def test_blur_matches_scipy(boundary, mode, kind):
  kw = dict(kind=kind, size=7, motion_angle=20.0)
  op = blur.blur(SHAPE, boundary=boundary, **kw)
  x = np.asarray(jax.random.uniform(jax.random.key(4), SHAPE), np.float64)
  k = blur.kernel(**kw)
  assert np.any(k != k[::-1, ::-1]) or kind == 'gaussian'
  ref = np.stack([scipy.ndimage.convolve(x[..., i], k, mode=mode)
                  for i in range(3)], -1)
  np.testing.assert_allclose(op.forward(jnp.asarray(x, jnp.float32), {}), ref,
                             atol=1e-5)


def test_kernel_file(tmp_path):
  k = np.zeros((4, 6))
  k[1, 1:5] = 1
  np.save(tmp_path / 'k.npy', k)
  kern = blur.kernel(kind=str(tmp_path / 'k.npy'))
  assert kern.shape == (5, 7) and abs(kern.sum() - 1) < 1e-12


def test_default_sizes_per_kind():
  assert blur.kernel().shape == (11, 11)  # 2 ceil(3 * 1.6) + 1
  assert blur.kernel(kind='box').shape == (5, 5)
  assert blur.kernel(kind='motion').shape == (9, 9)
  np.testing.assert_allclose(blur.kernel(kind='box', size=3), 1 / 9)


def test_bad_values_name_the_field():
  with pytest.raises(UserError, match='operator.blur.boundary'):
    blur.blur(SHAPE, boundary='wrap')
  with pytest.raises(UserError, match='operator.blur.kind'):
    blur.kernel(kind='nope')
  with pytest.raises(UserError, match='larger than the image'):
    blur.blur((4, 4, 1), kind='box', size=5)
