"""MRI sampling masks and (multi-coil) k-space against numpy FFTs."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from dd_jax import configurable
from dd_jax.inverse import mri


def rand(shape, seed):
  return jax.random.uniform(jax.random.key(seed), shape, jnp.float32)


@pytest.mark.parametrize('kind', ['random', 'equispaced', 'points'])
def test_mri_masks(kind):
  m = mri.mri_mask((32, 64), kind, 4.0, 0.08, np.random.default_rng(0))
  assert m.shape == (32, 64) and m[0, 0]  # DC sampled
  assert abs(m.mean() - 0.25) < 0.05
  if kind != 'points':
    assert np.all(m == m[:1])  # whole phase-encode lines


def test_mri_matches_numpy_fft():
  op = mri.single_coil((16, 16, 1), mask='equispaced', accel=2.0)
  x = np.asarray(rand((16, 16, 1), 8), np.float64)
  m = mri.mri_mask((16, 16), 'equispaced', 2.0, 0.08,
                   np.random.default_rng(0))
  k = np.fft.fft2(x[..., 0], norm='ortho') * m
  y = np.asarray(op.forward(jnp.asarray(x, jnp.float32), {}))
  np.testing.assert_allclose(y[:, :, 0, 0] + 1j * y[:, :, 0, 1], k, atol=1e-5)


def test_multicoil_full_sampling_inverts_with_adjoint():
  s = mri.synthetic_coils((16, 16), 4)
  np.testing.assert_allclose(np.sum(np.abs(s) ** 2, -1), 1.0, atol=1e-12)
  op = mri.multi_coil((16, 16, 1), mask='points', accel=1.0,
                      coils='synthetic:4')
  x = rand((16, 16, 1), 9)
  np.testing.assert_allclose(op.adjoint(op.forward(x, {}), {}), x, atol=1e-5)
  xs = np.asarray(x, np.float64)[..., 0, None] * s
  k = np.fft.fft2(xs, axes=(0, 1), norm='ortho')
  y = np.asarray(op.forward(x, {}))[:, :, 0]
  np.testing.assert_allclose(y[..., 0] + 1j * y[..., 1], k, atol=1e-5)


def test_mask_file_is_centred_order(tmp_path):
  from PIL import Image
  m = np.zeros((8, 8), np.uint8)
  m[4, 4] = 255  # the centre of centred k-space is DC
  Image.fromarray(m).save(tmp_path / 'k.png')
  op = mri.single_coil((8, 8, 1), mask=str(tmp_path / 'k.png'))
  y = np.asarray(op.forward(jnp.ones((8, 8, 1)), {}))
  assert abs(y[0, 0, 0, 0] - 8.0) < 1e-5 and np.abs(y).sum() - 8.0 < 1e-4


def test_shared_section_defaults_agree():
  """mri reads operator.mri (made from multi_coil): same defaults."""
  single = configurable.defaults(mri.single_coil)
  assert single.items() <= configurable.defaults(mri.multi_coil).items()
