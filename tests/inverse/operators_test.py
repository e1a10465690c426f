"""The registry and config adapter: every operator from a nested config
section, adjoint identities, field validation, compose, measure."""

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest

from configs import common
from dd_jax.errors import UserError
from dd_jax.inverse import base
from dd_jax.inverse import blur
from dd_jax.inverse import compose
from dd_jax.inverse import cs
from dd_jax.inverse import inpaint
from dd_jax.inverse import mri
from dd_jax.inverse import operators
from dd_jax.inverse import superres

SHAPE = (16, 16, 3)


def cfg(name='identity', **sections):
  """A small operator config: the base sections, updated by `sections`."""
  c = common.base_config('test').operator
  c.name = name
  c.downsample.factor = 2
  c.compose.ops = 'blur,downsample'
  c.mri.coils = 'synthetic:4'
  c.cs.block = 64
  for section, fields in sections.items():
    c[section].update(fields)
  return c


def rand(shape, seed):
  return jax.random.uniform(jax.random.key(seed), shape, jnp.float32)


ALL = [
    ('identity', {}),
    ('mask', {}), ('mask', dict(mask=dict(kind='text'))),
    ('mask', dict(mask=dict(kind='block'))),
    ('downsample', {}),
    ('downsample', dict(downsample=dict(factor=4, kernel='bicubic'))),
    ('blur', {}), ('blur', dict(blur=dict(kind='motion', boundary='reflect'))),
    ('blur', dict(blur=dict(kind='box', size=3, boundary='zero'))),
    ('cs_gaussian', {}), ('cs_conv', dict(cs=dict(ratio=3.0))),
    ('mri', {}), ('mri', dict(mri=dict(mask='equispaced'))),
    ('mri_multicoil', {}),
    ('compose', {}), ('compose', dict(compose=dict(ops='blur,mask'))),
]


@pytest.mark.parametrize('name,sections', ALL, ids=lambda v: str(v))
def test_adjoint_identity(name, sections):
  op = operators.make_operator(cfg(name, **sections), SHAPE)
  aux = op.make_aux(jax.random.key(3), 0)
  x = rand(SHAPE, 1) - 0.5
  y = jax.random.normal(jax.random.key(2), op.measurement_shape)
  ax = op.forward(x, aux)
  assert ax.shape == op.measurement_shape
  lhs = float(np.vdot(np.asarray(ax, np.float64), np.asarray(y, np.float64)))
  rhs = float(np.vdot(np.asarray(x, np.float64),
                      np.asarray(op.adjoint(y, aux), np.float64)))
  assert abs(lhs - rhs) <= 1e-4 * (abs(lhs) + 1.0)
  assert float(jnp.linalg.norm(ax)) > 0  # not trivially zero


def test_identity():
  op = operators.make_operator(cfg(), (8, 8, 3))
  x = jnp.ones((8, 8, 3)) * 0.3
  np.testing.assert_array_equal(op.forward(x, op.make_aux(None, 0)), x)


def test_builders_take_plain_keyword_arguments():
  """No ConfigDict: each family's builder with plain arguments equals the
  operator the config adapter builds."""
  x = rand(SHAPE, 5)
  key = jax.random.key(0)
  plain = {
      'identity': base.identity(SHAPE),
      'mask': inpaint.mask(SHAPE, kind='block', block=0.5),
      'downsample': superres.downsample(SHAPE, factor=2, kernel='bicubic'),
      'blur': blur.blur(SHAPE, kind='box', size=3, boundary='zero'),
      'cs_gaussian': cs.gaussian(SHAPE, ratio=2.0, block=64, seed=3),
      'cs_conv': cs.conv(SHAPE, ratio=2.0, seed=3),
      'mri': mri.single_coil(SHAPE, mask='points', accel=2.0, seed=1),
      'mri_multicoil': mri.multi_coil(SHAPE, mask='equispaced',
                                      coils='synthetic:2'),
  }
  configs = {
      'mask': dict(mask=dict(kind='block', block=0.5)),
      'downsample': dict(downsample=dict(factor=2, kernel='bicubic')),
      'blur': dict(blur=dict(kind='box', size=3, boundary='zero')),
      'cs_gaussian': dict(cs=dict(ratio=2.0, block=64, seed=3)),
      'cs_conv': dict(cs=dict(ratio=2.0, seed=3)),
      'mri': dict(mri=dict(mask='points', accel=2.0, seed=1)),
      'mri_multicoil': dict(mri=dict(mask='equispaced', coils='synthetic:2')),
  }
  for name, op in plain.items():
    assert isinstance(op, base.Operator) and op.name == name
    via = operators.make_operator(cfg(name, **configs.get(name, {})), SHAPE)
    assert via.measurement_shape == op.measurement_shape
    np.testing.assert_array_equal(op.forward(x, op.make_aux(key, 0)),
                                  via.forward(x, via.make_aux(key, 0)))
  chained = compose.compose([plain['blur'], superres.downsample(SHAPE,
                                                                factor=2)])
  assert chained.measurement_shape == (8, 8, 3)


def test_sections_hold_the_builders_defaults():
  c = common.base_config('full').operator
  assert c.mask.to_dict() == dict(
      kind='random', observed=0.5, block=0.25, text='Deep Decoder',
      normalize='observed', auto_band=(0.7, 1.0), auto_threshold=0.2,
      auto_white=0.8, auto_outline=2, auto_dilation=1)
  assert c.downsample.to_dict() == dict(factor=4, kernel='lanczos2')
  assert set(c.blur) == {'kind', 'sigma', 'size', 'motion_angle', 'boundary'}
  assert set(c.mri) == {'mask', 'accel', 'center', 'seed', 'coils'}
  assert set(c.noise) == {'name', 'sigma', 'peak', 'amount', 'clip'}
  assert set(c) == {'name', *operators.SECTIONS}


def test_unknown_field_in_a_section_lists_valid_fields():
  c = cfg('blur')
  c.blur = ml_collections.ConfigDict(dict(kind='box', sigmaa=2.0))
  with pytest.raises(UserError, match=r'operator\.blur\.sigmaa.*boundary'):
    operators.make_operator(c, SHAPE)
  c = cfg('mask')
  c.noise = ml_collections.ConfigDict(dict(level=0.1))
  with pytest.raises(UserError, match=r'operator\.noise\.level.*sigma'):
    operators.measure(jax.random.key(0), jnp.zeros(SHAPE),
                      operators.make_operator(c, SHAPE), {}, c)


def test_old_flat_fields_fail_with_their_new_place():
  c = ml_collections.ConfigDict(dict(name='mask', observed=0.3))
  with pytest.raises(UserError, match=r'operator\.observed.*'
                     r'operator\.mask\.observed'):
    operators.make_operator(c, SHAPE)
  c = ml_collections.ConfigDict(dict(name='mask', mask='block'))
  with pytest.raises(UserError, match=r'operator\.mask is a section'):
    operators.make_operator(c, SHAPE)


def test_missing_sections_use_the_defaults():
  op = operators.make_operator(ml_collections.ConfigDict({'name': 'mask'}),
                               SHAPE)
  m = op.make_aux(jax.random.key(0), 0)['mask']
  assert 0.3 < float(m.mean()) < 0.7


def test_shared_sections_ignore_fields_their_operator_lacks():
  c = cfg('cs_conv', cs=dict(block=7))  # block is cs_gaussian's only
  assert operators.make_operator(c, SHAPE).name == 'cs_conv'
  c = cfg('mri', mri=dict(coils='synthetic:3'))
  assert operators.make_operator(c, SHAPE).measurement_shape == (*SHAPE, 2)


def test_compose_equals_sequence():
  c = cfg('compose')
  op = operators.make_operator(c, SHAPE)
  x = rand(SHAPE, 3)
  b = operators.make_operator(cfg('blur'), SHAPE)
  d = operators.make_operator(cfg('downsample'), SHAPE)
  np.testing.assert_allclose(op.forward(x, op.make_aux(jax.random.key(0), 0)),
                             d.forward(b.forward(x, {}), {}), atol=1e-6)
  assert operators.scale_factor(c) == 2
  assert operators.image_shape_for(c, (8, 8, 3)) == SHAPE
  with pytest.raises(UserError, match='operator.compose.ops'):
    operators.make_operator(cfg('compose', compose=dict(ops='')), SHAPE)


def test_unknown_names_list_choices():
  with pytest.raises(UserError, match='cs_gaussian'):
    operators.make_operator(cfg('nope'), SHAPE)
  with pytest.raises(UserError, match='identity'):
    operators.make_operator(cfg('blurr'), (8, 8, 3))
  with pytest.raises(UserError, match='poisson'):
    c = cfg(noise=dict(name='nope'))
    operators.measure(jax.random.key(0), jnp.zeros(SHAPE),
                      operators.make_operator(c, SHAPE), {}, c)


def test_given_measurement_checks():
  with pytest.raises(UserError, match='operator.mask.kind'):
    operators.check_given_measurement(cfg('mask'))
  operators.check_given_measurement(cfg('mask', mask=dict(kind='block')))
  with pytest.raises(UserError, match='image shape'):
    operators.check_given_measurement(cfg('cs_gaussian'))
  assert operators.image_shape_for(cfg('mri'), (8, 8, 1, 2)) == (8, 8, 1)


def test_measure_does_not_clip_kspace():
  c = cfg('mri', noise=dict(name='gaussian', sigma=0.01))
  op = operators.make_operator(c, (8, 8, 1))
  y = operators.measure(jax.random.key(0), jnp.ones((8, 8, 1)), op, {}, c)
  assert float(jnp.max(y)) > 1.5  # DC of ones is 8 with the ortho FFT
  c = cfg('identity', noise=dict(sigma=2.0))
  op = operators.make_operator(c, SHAPE)
  y = operators.measure(jax.random.key(0), jnp.full(SHAPE, 0.5), op, {}, c)
  assert float(y.min()) >= 0 and float(y.max()) <= 1  # images are clipped
  c.noise.clip = False
  y = operators.measure(jax.random.key(0), jnp.full(SHAPE, 0.5), op, {}, c)
  assert float(y.max()) > 1
