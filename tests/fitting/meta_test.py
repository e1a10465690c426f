"""Reptile meta-learning (dd_jax.fitting.meta): the update against a loop of
plain fits, the input's first-order gradient, resuming, the crop sampler."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from configs import common
from dd_jax import models
from dd_jax.errors import UserError
from dd_jax.fitting import checkpoint as ckpt_lib
from dd_jax.fitting import interrupt
from dd_jax.fitting import meta
from dd_jax.fitting import step as step_lib
from dd_jax.fitting.optim import optimizer_from_config
from dd_jax.inverse import losses
from dd_jax.inverse import operators

SHAPE = (16, 16, 3)


def _setup(input_scale=0.1):
  c = common.base_config('test')
  c.model.k, c.model.depth = 4, 2
  c.model.input_scale = input_scale
  c.operator.noise.sigma = 0.1
  model = models.make_model(c.model, SHAPE)
  op = operators.make_operator(c.operator, SHAPE)
  xs = np.random.default_rng(1).uniform(0, 1, (2, *SHAPE)).astype(np.float32)
  return c, model, op, xs


def _outer(c, model, op, opts):
  """The jitted outer step for the run config `c`."""
  return jax.jit(meta.make_outer_step(
      model, op, operator_cfg=c.operator, optim_cfg=c.optim, fit_cfg=c.fit,
      opts=opts))


def _reference_update(c, model, op, opts, state, xs, key):
  """The Reptile update written out: each image measured and fitted on its
  own (eager loop of make_step), theta + eps (mean fitted - theta)."""
  k_aux, k_noise, k_fit = (jax.random.split(k, len(xs)) for k in
                           jax.random.split(key, 3))
  fit_opts = step_lib.fit_options(c.fit)
  tx = optimizer_from_config(c.optim, int(c.fit.steps))
  apply_fn = lambda p, z: model.apply({'params': p}, z)
  step = step_lib.make_step(apply_fn, op.forward,
                            losses.get_loss(fit_opts.loss), tx, fit_opts)
  fitted, ys = [], []
  for i, x in enumerate(xs):
    aux = op.make_aux(k_aux[i], 0)
    y = operators.measure(k_noise[i], jnp.asarray(x), op, aux, c.operator)
    s = step_lib.new_state(state.params, tx, k_fit[i], fit_opts.best_rule)
    for _ in range(opts.inner_steps):
      s, _ = step(s, {'z': state.z, 'y': y, 'aux': aux})
    fitted.append(s.params)
    ys.append(y)
  mean = jax.tree.map(lambda *a: sum(a) / len(a), *fitted)
  return jax.tree.map(lambda p, m: p + opts.outer_lr * (m - p),
                      state.params, mean), fitted, ys


def test_outer_step_is_reptile_over_separate_fits():
  c, model, op, xs = _setup()
  opts = meta.MetaOptions(inner_steps=3, batch=2, outer_lr=0.5, anneal=False,
                          keep_scale=False)
  state = meta.init_meta(model, jax.random.key(0), opts)
  outer = _outer(c, model, op, opts)
  key = jax.random.key(5)
  new, record = outer(state, jnp.asarray(xs), key)
  want, _, _ = _reference_update(c, model, op, opts, state, xs, key)
  for a, b in zip(jax.tree.leaves(new.params), jax.tree.leaves(want)):
    np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=2e-5,
                               atol=2e-6)
  np.testing.assert_array_equal(np.asarray(new.z), np.asarray(state.z))
  assert int(new.step) == 1
  assert float(record['loss_last']) < float(record['loss_first'])


def test_keep_scale_keeps_channel_norms_and_the_function():
  """The hidden layers' per-channel norms stay those of the init; the net
  computes what plain Reptile's update computes (the norm follows; an
  input of scale 1 makes the norm's eps negligible: the variances are
  ~1e-2, against ~1e-4 at the default 0.1 on a 16x16 image)."""
  c, model, op, xs = _setup(input_scale=1.0)
  assert model.scale_invariant() == ('layer_0', 'layer_1')
  outs = {}
  for keep in (False, True):
    opts = meta.MetaOptions(inner_steps=3, batch=2, keep_scale=keep)
    state = meta.init_meta(model, jax.random.key(0), opts)
    outer = _outer(c, model, op, opts)
    new, _ = outer(state, jnp.asarray(xs), jax.random.key(5))
    outs[keep] = (new.params, model.apply({'params': new.params}, state.z))
  norm = lambda w: np.sqrt((np.asarray(w) ** 2).sum(0))
  for name in ('layer_0', 'layer_1'):
    np.testing.assert_allclose(norm(outs[True][0][name]['w']),
                               norm(state.params[name]['w']), rtol=1e-5)
    assert not np.allclose(norm(outs[False][0][name]['w']),
                           norm(state.params[name]['w']), rtol=1e-3)
  np.testing.assert_array_equal(outs[True][0]['out']['w'],
                                outs[False][0]['out']['w'])
  np.testing.assert_allclose(outs[True][1], outs[False][1], atol=1e-4)


def test_learn_input_moves_z_by_adam_on_the_fitted_losses_gradient():
  c, model, op, xs = _setup()
  opts = meta.MetaOptions(inner_steps=2, batch=2, outer_lr=0.5, anneal=False,
                          learn_input=True, input_lr=0.01, keep_scale=False)
  state = meta.init_meta(model, jax.random.key(0), opts)
  outer = _outer(c, model, op, opts)
  key = jax.random.key(2)
  new, _ = outer(state, jnp.asarray(xs), key)
  _, fitted, ys = _reference_update(c, model, op, opts, state, xs, key)

  def loss(z):
    return sum(jnp.mean((model.apply({'params': p}, z) - y) ** 2)
               for p, y in zip(fitted, ys)) / len(ys)

  g = jax.grad(loss)(state.z)
  upd, _ = optax.adam(0.01).update(g, optax.adam(0.01).init(state.z))
  np.testing.assert_allclose(np.asarray(new.z),
                             np.asarray(state.z + upd), rtol=1e-5, atol=1e-7)


def test_learn_resumes_bit_identical_after_a_stop(tmp_path):
  c, model, op, xs = _setup()
  opts = meta.MetaOptions(outer_steps=4, inner_steps=2, batch=2, log_every=1)
  sample = meta.crop_sampler([np.pad(xs[0], ((4, 4), (4, 4), (0, 0)))], 16,
                             2, seed=0)
  kw = dict(operator_cfg=c.operator, optim_cfg=c.optim, fit_cfg=c.fit,
            opts=opts, key=jax.random.key(1))
  full = meta.learn(model, op, sample, **kw)

  def stopping_sample(i):
    if i == 2:
      interrupt.request()  # As a Ctrl-C during step 2 would.
    return sample(i)

  ck = ckpt_lib.GroupCheckpoint(str(tmp_path / 'meta'), every_s=0)
  try:
    with pytest.raises(interrupt.Interrupted) as e:
      meta.learn(model, op, stopping_sample, checkpoint=ck, **kw)
  finally:
    interrupt._requested[0] = None
  assert e.value.step == 3 and ck.meta()['pos'] == 3
  resumed = meta.learn(model, op, sample, checkpoint=ck, **kw)
  for a, b in zip(jax.tree.leaves(resumed.params),
                  jax.tree.leaves(full.params)):
    np.testing.assert_array_equal(a, b)
  assert [h['step'] for h in resumed.history] == [1, 2, 3, 4]
  assert ck.meta()['finished']


def test_crop_sampler_is_deterministic_and_checks_sizes():
  rng = np.random.default_rng(0)
  images = [rng.uniform(size=(40, 50, 3)), rng.uniform(size=(32, 32, 3))]
  sample = meta.crop_sampler(images, 16, 3, seed=4)
  a, b = sample(7), sample(7)
  assert a.shape == (3, 16, 16, 3)
  np.testing.assert_array_equal(a, b)
  assert not np.array_equal(sample(7), sample(8))
  with pytest.raises(UserError, match='smaller than the 64x64 crops'):
    meta.crop_sampler(images, 64, 2)


@pytest.mark.parametrize('field,value', [('outer_lr', 0.0), ('outer_lr', 2.0),
                                         ('batch', 0), ('inner_steps', 0)])
def test_meta_options_refuse_bad_values(field, value):
  with pytest.raises(UserError, match=f'meta.{field}'):
    meta.MetaOptions(**{field: value}).check()
