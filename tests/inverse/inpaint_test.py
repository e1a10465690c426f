"""Inpainting masks: random, block, text, file; loss weight and vmap."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from dd_jax.errors import UserError
from dd_jax.inverse import inpaint

SHAPE = (16, 16, 3)


def rand(shape, seed):
  return jax.random.uniform(jax.random.key(seed), shape, jnp.float32)


def test_random_mask_fraction_and_forward():
  op = inpaint.mask((64, 64, 3), observed=0.3)
  aux = op.make_aux(jax.random.key(0), 0)
  assert abs(float(aux['mask'].mean()) - 0.3) < 0.03
  x = rand((64, 64, 3), 1)
  y, m = np.asarray(op.forward(x, aux)), np.asarray(aux['mask'])
  np.testing.assert_array_equal(y[~m], 0)
  np.testing.assert_array_equal(y[m], np.asarray(x)[m])


def test_block_mask():
  op = inpaint.mask((16, 16, 1), kind='block', block=0.5)
  m = np.asarray(op.make_aux(None, 0)['mask'])
  assert m.sum() == 16 * 16 - 8 * 8
  assert not m[8, 8]


def test_mask_kinds_and_weight(tmp_path):
  from PIL import Image
  text = inpaint.text_mask((64, 64))
  assert 0.5 < text.mean() < 0.99
  m = np.ones((20, 20), np.uint8) * 255
  m[5:9, :] = 0
  Image.fromarray(m).save(tmp_path / 'm.png')
  op = inpaint.mask((16, 16, 3), kind=str(tmp_path / 'm.png'))
  aux = op.make_aux(jax.random.key(0), 0)
  assert int(aux['mask'].sum()) == 16 * 16 - 4 * 16  # centre crop 20 -> 16
  assert op.weight(aux).shape == (16, 16, 1)
  assert inpaint.mask(SHAPE, normalize='all').weight is None
  other = inpaint.mask((64, 64, 1), kind='text', text='xyz')
  assert not np.array_equal(other.make_aux(None, 0)['mask'], text)


def test_bad_values_name_the_field():
  with pytest.raises(UserError, match='operator.mask.observed'):
    inpaint.mask(SHAPE, observed=0.0)
  with pytest.raises(UserError, match='observed'):
    inpaint.mask(SHAPE, normalize='some')


def test_random_mask_vmap_equals_loop():
  op = inpaint.mask(SHAPE)
  keys = jax.random.split(jax.random.key(0), 3)
  xs = jnp.stack([rand(SHAPE, i) for i in range(3)])
  auxs = jax.vmap(op.make_aux, in_axes=(0, None))(keys, 0)
  batched = jax.jit(jax.vmap(op.forward))(xs, auxs)
  for i in range(3):
    np.testing.assert_array_equal(
        batched[i], op.forward(xs[i], op.make_aux(keys[i], 0)))


def test_check_mask_refuses_empty_masks_and_channels():
  assert inpaint.check_mask(np.eye(4)).dtype == np.bool_
  with pytest.raises(UserError, match='observes no pixel'):
    inpaint.check_mask(np.zeros((4, 4)))
  per_channel = np.ones((4, 4, 3))
  per_channel[..., 1] = 0
  with pytest.raises(UserError, match=r'nothing in channel\(s\) \[1\] of 3'):
    inpaint.check_mask(per_channel)
  with pytest.raises(UserError, match='observes no pixel'):
    inpaint.check_mask(np.zeros((4, 4, 3)))


def test_empty_masks_refused_when_the_operator_is_built(tmp_path):
  from PIL import Image
  from configs import common
  from dd_jax.inverse import operators
  Image.fromarray(np.zeros((16, 16), np.uint8)).save(tmp_path / 'zero.png')
  c = common.base_config('test').operator
  c.name = 'mask'
  for fields, match in ((dict(kind=str(tmp_path / 'zero.png')), 'no pixel'),
                        (dict(kind='block', block=1.0), 'operator.mask.block'),
                        (dict(kind='random', observed=0.001),
                         'operator.mask.observed=0.001 keeps about 0.26')):
    c.mask.update(fields)
    with pytest.raises(UserError, match=match):
      operators.make_operator(c, SHAPE)
  c.mask.update(dict(kind='random', observed=0.05))  # 13 of 256: fine
  operators.make_operator(c, SHAPE)
