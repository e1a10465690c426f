"""model.output: sigmoid (the default, unchanged), linear and tanh, for the
deep decoder and DIP, against numpy float64."""

import functools

import jax
import numpy as np
import pytest

from configs import common
from dd_jax import models
from dd_jax.errors import UserError

SHAPE = (32, 32, 2)
# (model, extra config.model fields): the fused and the plain decoder path.
CASES = [('deep_decoder', ()), ('deep_decoder', (('fused', False),)),
         ('dip', ())]


def build(kind, output=None, kw=()):
  c = common.base_config('test').model
  c.k, c.depth = 8, 3
  if kind == 'dip':
    c.name = 'dip'
    c.dip = dict(scales=1, channels_down=(8,), channels_up=(8,),
                 channels_skip=(2,))
  c.update(dict(kw))
  if output is not None:
    c.output = output
  return models.make_model(c, SHAPE)


@functools.lru_cache(maxsize=None)
def outputs(kind, kw, jit):
  """({output name: image} of one set of weights, variables, z); jit: all
  outputs in one compiled call (DIP's op-by-op eager run is slow)."""
  model = build(kind, kw=kw)
  z = model.init_input(jax.random.key(1))
  v = model.init(jax.random.key(2), z)
  apply_all = lambda v, z: {o: build(kind, o, kw).apply(v, z)
                            for o in models.OUTPUTS}
  got = (jax.jit(apply_all) if jit else apply_all)(v, z)
  return {k: np.asarray(a) for k, a in got.items()}, v, z


@pytest.mark.parametrize('kind, kw', CASES)
def test_sigmoid_is_the_default_and_unchanged(kind, kw):
  """The default is sigmoid, and its output is bit for bit sigmoid of the
  linear output (the output stage is the only thing model.output changes),
  eager (op by op) for the decoder, jitted for both."""
  assert build(kind, kw=kw).output == 'sigmoid'
  for jit in ((False, True) if kind == 'deep_decoder' else (True,)):
    got = outputs(kind, kw, jit)[0]
    np.testing.assert_array_equal(
        got['sigmoid'], np.asarray(jax.nn.sigmoid(got['linear'])))
    assert 0 < got['sigmoid'].min() and got['sigmoid'].max() < 1


@pytest.mark.parametrize('kind, kw', CASES)
@pytest.mark.parametrize('output, ref', [
    ('linear', lambda a: a), ('tanh', np.tanh),
    ('sigmoid', lambda a: 1 / (1 + np.exp(-a)))])
def test_outputs_against_numpy(kind, kw, output, ref):
  """Each output is its numpy function of the pre-activation: for the deep
  decoder computed in float64 from the last hidden layer and the output
  conv's weights, for DIP the linear output."""
  got, v, z = outputs(kind, kw, kind == 'dip')
  if kind == 'deep_decoder':
    model = build(kind, kw=kw)
    feats = model.apply(v, z, method=models.DeepDecoder.features)
    pre = (np.asarray(feats[-1], np.float64) @
           np.asarray(v['params']['out']['w'], np.float64))
  else:
    pre = got['linear'].astype(np.float64)
  np.testing.assert_allclose(got[output], ref(pre), rtol=1e-5, atol=1e-5)
  if output != 'sigmoid':
    assert got[output].min() < 0  # real and imaginary parts may be negative


@pytest.mark.parametrize('kind', ['deep_decoder', 'dip'])
def test_unknown_output_is_one_clear_line(kind):
  with pytest.raises(UserError) as e:
    build(kind, 'relu')
  msg = str(e.value)
  assert "Unknown model.output 'relu'" in msg
  assert "['linear', 'sigmoid', 'tanh']" in msg and '\n' not in msg
