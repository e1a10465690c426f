"""Property tests: <A x, y> = <x, A^T y> for every operator, random shapes.

Hypothesis draws the image shape and each builder's arguments (few examples,
tiny shapes, a fixed seed). Both sides of an example are one jitted call:
one compilation (XLA's backend optimizations off: 30% faster to compile),
where eager evaluation compiles every primitive of the forward and its
transpose for each new shape (5x slower here).
"""

import jax
from hypothesis import given, settings, strategies as st
import numpy as np
import pytest

from dd_jax.inverse import base
from dd_jax.inverse import blur
from dd_jax.inverse import compose
from dd_jax.inverse import cs
from dd_jax.inverse import inpaint
from dd_jax.inverse import mri
from dd_jax.inverse import superres

SETTINGS = settings(max_examples=8, deadline=None, database=None,
                    derandomize=True)
channels = st.integers(1, 3)
FAST_COMPILE = {'xla_backend_optimization_level': 0}


@st.composite
def shapes(draw, multiple=1, least=1):
  """`[H, W, C]` with sides multiples of `multiple`, at least `least`."""
  lo = max(1, -(-least // multiple))
  h, w = (draw(st.integers(lo, lo + 5)) * multiple for _ in range(2))
  return (h, w, draw(channels))


def assert_adjoint(op: base.Operator, seed: int):
  """<A x, y> = <x, A^T y> in float64, up to float32 rounding."""
  rng = np.random.default_rng(seed)
  x = rng.standard_normal(op.image_shape).astype(np.float32)
  y = rng.standard_normal(op.measurement_shape).astype(np.float32)

  def both(key, x, y):
    aux = op.make_aux(key, 0)
    return op.forward(x, aux), op.adjoint(y, aux)

  both = jax.jit(both, compiler_options=FAST_COMPILE)
  ax, aty = (np.asarray(v, np.float64)
             for v in both(jax.random.key(seed), x, y))
  assert ax.shape == op.measurement_shape and aty.shape == op.image_shape
  lhs, rhs = np.vdot(ax, y), np.vdot(x.astype(np.float64), aty)
  scale = np.linalg.norm(ax) * np.linalg.norm(y) + np.linalg.norm(
      x) * np.linalg.norm(aty)
  assert abs(lhs - rhs) <= 1e-5 * scale + 1e-6, (lhs, rhs)


@SETTINGS
@given(shapes(), st.integers(0, 99))
def test_identity(shape, seed):
  assert_adjoint(base.identity(shape), seed)


@SETTINGS
@given(shapes(least=4), st.sampled_from(['random', 'block']),
       st.floats(0.5, 1.0), st.floats(0.0, 0.6), st.integers(0, 99))
def test_mask(shape, kind, observed, block, seed):
  op = inpaint.mask(shape, kind=kind, observed=observed, block=block)
  assert_adjoint(op, seed)


@SETTINGS
@given(st.sampled_from([2, 3]), st.sampled_from(['lanczos2', 'bicubic']),
       st.data())
def test_downsample(factor, kernel, data):
  shape = data.draw(shapes(multiple=factor))
  assert_adjoint(superres.downsample(shape, factor=factor, kernel=kernel),
                 data.draw(st.integers(0, 99)))


@SETTINGS
@given(st.sampled_from(['gaussian', 'box', 'motion']),
       st.sampled_from(sorted(blur.BOUNDARIES)), st.integers(1, 3),
       st.data())
def test_blur(kind, boundary, size, data):
  size = 2 * size + 1  # odd kernels of 3..7 pixels
  shape = data.draw(shapes(least=size))
  op = blur.blur(shape, kind=kind, sigma=0.8, size=size, boundary=boundary)
  assert_adjoint(op, data.draw(st.integers(0, 99)))


@SETTINGS
@given(shapes(), st.floats(1.0, 4.0), st.sampled_from([8, 16, 1024]),
       st.integers(0, 99))
def test_cs_gaussian(shape, ratio, block, seed):
  assert_adjoint(cs.gaussian(shape, ratio=ratio, block=block, seed=seed), seed)


@SETTINGS
@given(shapes(), st.floats(1.0, 4.0), st.integers(0, 99))
def test_cs_conv(shape, ratio, seed):
  assert_adjoint(cs.conv(shape, ratio=ratio, seed=seed), seed)


@SETTINGS
@given(shapes(least=2), st.sampled_from(list(mri.MASKS)),
       st.floats(1.0, 4.0), st.integers(0, 99))
def test_mri_single_coil(shape, mask, accel, seed):
  op = mri.single_coil(shape, mask=mask, accel=accel, seed=seed)
  assert_adjoint(op, seed)


@SETTINGS
@given(shapes(least=2), st.integers(1, 3), st.integers(0, 99))
def test_mri_multi_coil(shape, coils, seed):
  op = mri.multi_coil(shape, coils=f'synthetic:{coils}', seed=seed)
  assert_adjoint(op, seed)


@SETTINGS
@given(st.sampled_from(['blur,downsample', 'blur,mask', 'mask,downsample']),
       st.data())
def test_compose(ops, data):
  shape = data.draw(shapes(multiple=2, least=4))
  chain, cur = [], shape
  for name in ops.split(','):
    op = {'blur': lambda s: blur.blur(s, sigma=0.7, size=3),
          'mask': lambda s: inpaint.mask(s, observed=0.8),
          'downsample': lambda s: superres.downsample(s, factor=2)}[name](cur)
    chain.append(op)
    cur = op.measurement_shape
  assert_adjoint(compose.compose(chain), data.draw(st.integers(0, 99)))


class _WrongAdjoint(base.Operator):

  def adjoint(self, y, aux):
    return 1.01 * super().adjoint(y, aux)


def test_the_check_catches_a_wrong_adjoint():
  op = _WrongAdjoint('wrong', lambda x, aux: 2 * x, base.no_aux, (3, 4, 1),
                     (3, 4, 1))
  with pytest.raises(AssertionError):
    assert_adjoint(op, 0)
