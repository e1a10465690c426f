"""Ground-truth-free stopping: sigma estimate, the rules, the fit hook."""

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest
import pywt

from configs import common
from dd_jax import fitting as fit_lib
from dd_jax import models
from dd_jax.inverse import operators
from dd_jax.fitting import stopping
from dd_jax.errors import UserError


def test_haar_band_matches_pywt():
  img = np.random.default_rng(0).random((10, 14, 3))
  hh = pywt.dwt2(img, 'haar', axes=(0, 1))[1][2]
  np.testing.assert_allclose(stopping.haar_diagonal(img), hh, atol=1e-12)


@pytest.mark.parametrize('sigma', [0.02, 0.1])
def test_mad_sigma_estimate(sigma):
  yy, xx = np.mgrid[0:256, 0:256] / 256.0
  clean = 0.3 + 0.4 * xx * yy
  noisy = clean + sigma * np.random.default_rng(1).standard_normal(clean.shape)
  assert abs(stopping.estimate_sigma(noisy) / sigma - 1) < 0.05


def _identity_parts(n=2, shape=(8, 8, 1)):
  op = operators.make_operator(ml_collections.ConfigDict({'name': 'identity'}),
                               shape)
  ys = jnp.full((n, *shape), 0.5)
  return op, ys


def test_discrepancy_stops_at_first_check_below_sigma2():
  op, ys = _identity_parts()
  rule = stopping.Discrepancy(op.forward, ys, {}, jnp.ones((2, 8, 8, 1)),
                              [0.1, 0.05])
  # residual rms per check: 0.3, 0.09, 0.07, 0.04
  for step, r in zip((10, 20, 30, 40), (0.3, 0.09, 0.07, 0.04)):
    rule.update(step, ys + r)
  assert list(rule.stop_steps) == [20, 40]
  np.testing.assert_allclose(rule.outputs[0], 0.59, atol=1e-6)
  np.testing.assert_allclose(rule.outputs[1], 0.54, atol=1e-6)
  assert rule.all_stopped


def test_validation_stops_after_patience_and_returns_best():
  op, ys = _identity_parts(n=1)
  held = jnp.zeros((1, 8, 8, 1)).at[0, :2].set(1.0)
  rule = stopping.Validation(op.forward, ys, {}, held, patience=2)
  errs = (0.3, 0.2, 0.1, 0.15, 0.12, 0.05)
  for i, e in enumerate(errs):
    out = ys + e
    rule.update(10 * (i + 1), out)
  assert rule.stop_steps[0] == 50 and rule.best_step[0] == 30
  final = rule.finalize(np.asarray(ys) + 0.05)
  np.testing.assert_allclose(final, 0.6, atol=1e-6)


def _fit_setup(steps=20, log_every=5):
  c = common.base_config('test')
  c.fit.steps, c.fit.log_every = steps, log_every
  c.fit.best_iterate = False
  shape = (16, 16, 1)
  c.model.depth = 3
  spec = models.make_model(c.model, shape)
  op, _ = _identity_parts(shape=shape)
  rng = np.random.default_rng(0)
  ys = jnp.asarray(np.clip(0.5 + 0.1 * rng.standard_normal((2, *shape)), 0, 1),
                   jnp.float32)
  keys = jax.random.split(jax.random.key(0), 2)
  return c, spec, op, ys, keys


def test_fit_halts_and_returns_iterate_at_stop():
  c, spec, op, ys, keys = _fit_setup()
  rule = stopping.Discrepancy(op.forward, ys, {}, jnp.ones((2, 16, 16, 1)),
                              [10.0, 10.0])  # fires at the first check
  res = fit_lib.fit(keys, spec, op.forward, ys, {}, optim_cfg=c.optim,
                    fit_cfg=c.fit, stopper=rule, verbose=False)
  assert list(res.stop_steps) == [5, 5]
  assert np.all(np.isfinite(res.losses[:, :5]))
  assert np.all(np.isnan(res.losses[:, 5:]))
  c.fit.steps = 5
  short = fit_lib.fit(keys, spec, op.forward, ys, {}, optim_cfg=c.optim,
                      fit_cfg=c.fit, verbose=False)
  np.testing.assert_allclose(res.restored, short.restored, atol=1e-6)


def test_fit_weights_ones_equal_no_weights_and_zeros_ignore_entries():
  c, spec, op, ys, keys = _fit_setup(steps=10, log_every=10)
  kw = dict(optim_cfg=c.optim, fit_cfg=c.fit, verbose=False)
  plain = fit_lib.fit(keys, spec, op.forward, ys, {}, **kw)
  ones = fit_lib.fit(keys, spec, op.forward, ys, {},
                     weights=jnp.ones((2, 16, 16, 1)), **kw)
  np.testing.assert_allclose(plain.restored, ones.restored, atol=1e-6)
  w = jnp.ones((2, 16, 16, 1)).at[:, :4].set(0.0)
  a = fit_lib.fit(keys, spec, op.forward, ys, {}, weights=w, **kw)
  b = fit_lib.fit(keys, spec, op.forward, ys.at[:, :4].set(1.0), {},
                  weights=w, **kw)
  np.testing.assert_allclose(a.restored, b.restored, atol=1e-6)
  assert not np.allclose(a.restored, plain.restored, atol=1e-4)


def test_make_stopper_rules():
  op, ys = _identity_parts()
  fit_cfg = ml_collections.ConfigDict({'stop': 'budget'})
  op_cfg = ml_collections.ConfigDict(
      {'noise': {'name': 'gaussian', 'sigma': 0.1}})
  assert stopping.make_stopper(fit_cfg, op_cfg, op, ys, {}, None) == (None,
                                                                       None)
  fit_cfg.stop = 'discrepancy'
  rule, _ = stopping.make_stopper(fit_cfg, op_cfg, op, ys, {}, None)
  np.testing.assert_allclose(rule.threshold, 0.01)
  fit_cfg.stop = 'validation'
  fit_cfg.holdout = 0.25
  rule, train = stopping.make_stopper(fit_cfg, op_cfg, op, ys, {}, None)
  held = np.asarray(rule._args[2])  # pylint: disable=protected-access
  assert train.shape == held.shape == (2, 8, 8, 1)
  np.testing.assert_array_equal(np.asarray(train) + held, 1.0)
  assert 0.1 < held.mean() < 0.4
  fit_cfg.stop = 'never'
  with pytest.raises(UserError, match='budget'):
    stopping.make_stopper(fit_cfg, op_cfg, op, ys, {}, None)
  fit_cfg.stop = 'discrepancy'
  with pytest.raises(UserError, match='never stops'):
    stopping.make_stopper(fit_cfg, ml_collections.ConfigDict(
        {'noise': {'name': 'none'}}), op, ys, {}, None)
