"""MRI operators on complex images against numpy complex128: forward, A^H
and the adjoint identity <A x, y> = <x, A^H y>."""

import jax.numpy as jnp
import numpy as np
import pytest

from configs import common
from dd_jax.errors import UserError
from dd_jax.inverse import mri
from dd_jax.inverse import operators
from dd_jax.io import images

HW, C = (32, 32), 2  # two complex channels: four real channels


def make(name):
  cfg = common.base_config('test').operator
  cfg.name = name
  cfg.mri.coils = 'synthetic:4'
  return operators.make_operator(cfg, (*HW, 2 * C), complex_valued=True)


def reference(name):
  """(A, A^H) in complex128 for images [H, W, C], k-space [H, W, C(, J)]."""
  m = mri.mri_mask(HW, 'random', 4.0, 0.08, np.random.default_rng(0))
  fft = lambda v: np.fft.fft2(v, axes=(0, 1), norm='ortho')
  ifft = lambda v: np.fft.ifft2(v, axes=(0, 1), norm='ortho')
  if name == 'mri':
    return (lambda x: fft(x) * m[..., None],
            lambda y: ifft(y * m[..., None]))
  s = mri.synthetic_coils(HW, 4)[:, :, None, :]             # [H, W, 1, J]
  return (lambda x: fft(x[..., None] * s) * m[..., None, None],
          lambda y: np.sum(np.conj(s) * ifft(y * m[..., None, None]), -1))


def rand_complex(shape, seed):
  rng = np.random.default_rng(seed)
  return rng.standard_normal(shape) + 1j * rng.standard_normal(shape)


def as_kspace(y):
  """Real/imag trailing axis -> complex."""
  y = np.asarray(y, np.float64)
  return y[..., 0] + 1j * y[..., 1]


@pytest.mark.parametrize('name', ['mri', 'mri_multicoil'])
def test_forward_and_adjoint_match_numpy(name):
  op = make(name)
  forward, adjoint = reference(name)
  x = rand_complex((*HW, C), 0)
  ks = op.measurement_shape[:-1]
  y = rand_complex(ks, 1)
  assert op.complex_valued and op.image_shape == (*HW, 2 * C)
  x_pairs = jnp.asarray(images.from_complex(x))
  ax = as_kspace(op.forward(x_pairs, {}))
  np.testing.assert_allclose(ax, forward(x), atol=2e-5)
  y_pairs = jnp.asarray(np.stack([y.real, y.imag], -1), jnp.float32)
  ahy = images.to_complex(np.asarray(op.adjoint(y_pairs, {}), np.float64))
  np.testing.assert_allclose(ahy, adjoint(y), atol=2e-5)
  # The complex adjoint identity, in complex128 (both parts), and its real
  # form on the channel pairs, which the fit's gradients rely on.
  lhs = np.vdot(forward(x), y)          # <A x, y> = sum conj(A x) y
  rhs = np.vdot(x, adjoint(y))
  np.testing.assert_allclose(lhs, rhs, rtol=1e-10)
  real_lhs = np.sum(np.asarray(op.forward(x_pairs, {}), np.float64) *
                    np.asarray(y_pairs, np.float64))
  real_rhs = np.sum(np.asarray(x_pairs, np.float64) *
                    np.asarray(op.adjoint(y_pairs, {}), np.float64))
  np.testing.assert_allclose(real_lhs, real_rhs, rtol=1e-4)
  np.testing.assert_allclose(real_lhs, lhs.real, rtol=1e-4)


def test_real_images_unchanged():
  """complex_valued=False is the real operator of before: a real image and
  the same image with zero imaginary part give the same k-space."""
  cfg = common.base_config('test').operator
  cfg.name = 'mri'
  real = operators.make_operator(cfg, (*HW, 1))
  cplx = operators.make_operator(cfg, (*HW, 2), complex_valued=True)
  x = np.random.default_rng(2).random((*HW, 1)).astype(np.float32)
  assert not real.complex_valued and real.measurement_shape == (*HW, 1, 2)
  assert cplx.measurement_shape == real.measurement_shape
  np.testing.assert_array_equal(
      real.forward(jnp.asarray(x), {}),
      cplx.forward(jnp.asarray(images.from_complex(x)), {}))


def test_real_only_operator_refuses_complex_images():
  cfg = common.base_config('test').operator
  cfg.name = 'blur'
  with pytest.raises(UserError, match=r"mri', 'mri_multicoil'.*'blur'"):
    operators.make_operator(cfg, (*HW, 2), complex_valued=True)


def test_image_shape_of_given_kspace():
  cfg = common.base_config('test').operator
  cfg.name = 'mri_multicoil'
  shape = (*HW, 1, 8, 2)
  assert operators.image_shape_for(cfg, shape) == (*HW, 1)
  assert operators.image_shape_for(cfg, shape, complex_valued=True) == (
      *HW, 2)
