"""The host loop: compile time apart, progress between log steps, options."""

import time

from absl.testing import absltest
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax

from configs import common
from dd_jax import fitting as fit
from dd_jax import models
from dd_jax.errors import UserError


def _setup(steps, log_every):
  c = common.base_config('test')
  c.fit.steps, c.fit.log_every = steps, log_every
  rng = np.random.default_rng(0)
  ys = jnp.asarray(rng.random((1, 32, 32, 3)), jnp.float32)
  spec = models.make_model(c.model, ys.shape[1:])
  return c, spec, ys, jax.random.split(jax.random.key(0), 1)


def _fit(c, spec, ys, keys, **kw):
  return fit.fit(keys, spec, lambda x, a: x, ys, {}, optim_cfg=c.optim,
                 fit_cfg=c.fit, clean=ys, **kw)


class LoopTest(absltest.TestCase):

  def test_logs_compile_and_rates_exclude_it(self):
    c, spec, ys, keys = _setup(8, 4)
    t0 = time.perf_counter()
    with self.assertLogs('absl', 'INFO') as logs:
      res = _fit(c, spec, ys, keys, verbose=True)
    wall = time.perf_counter() - t0
    text = '\n'.join(logs.output)
    self.assertIn('compiling the fit step for 1 image(s) 32x32x3', text)
    self.assertIn(f'compiled in {res.compile_s:.1f} s', text)
    first = res.history[0]
    self.assertGreater(res.compile_s, 0.0)
    self.assertEqual(first['compile_s'], res.compile_s)
    self.assertNotIn('compile_s', res.history[1])
    # Fit time starts after compiling: both fit in the wall time, apart.
    self.assertLessEqual(res.seconds + res.compile_s, wall)
    self.assertLessEqual(first['elapsed_s'], res.seconds)
    self.assertAlmostEqual(first['steps_per_s'], 4 / first['elapsed_s'])

  def test_progress_between_log_steps_gives_the_same_fit(self):
    c, spec, ys, keys = _setup(12, 6)
    events = []
    listener = lambda name, *a, **k: events.append(name)
    jax.monitoring.register_event_duration_secs_listener(listener)
    try:
      plain = _fit(c, spec, ys, keys, verbose=False)
      n_plain = sum('backend_compile' in e for e in events)
      events.clear()
      # A tiny progress_s: one step per call; progress_log_s=0: log each.
      with self.assertLogs('absl', 'INFO') as logs:
        split = _fit(c, spec, ys, keys, verbose=True, progress_s=1e-9,
                     progress_log_s=0.0)
      n_split = sum('backend_compile' in e for e in events)
    finally:
      jax.monitoring.unregister_event_duration_listener(listener)
    progress = [m for m in logs.output if '/12 steps |' in m]
    between = [m for m in progress if ' 6/12 ' not in m and ' 12/12' not in m]
    self.assertLen(between, 10)  # Steps 1-5 and 7-11.
    self.assertEqual(n_split, n_plain)  # Sub-chunks share one compilation.
    self.assertEqual([h['step'] for h in split.history], [6, 12])
    np.testing.assert_array_equal(split.losses, plain.losses)
    np.testing.assert_array_equal(split.restored, plain.restored)
    for a, b in zip(jax.tree.leaves(split.params),
                    jax.tree.leaves(plain.params)):
      np.testing.assert_array_equal(a, b)
    self.assertEqual(split.history[-1]['psnr'], plain.history[-1]['psnr'])


def _probe(image, y, clean):
  """A small probe: output mean, MSE to y, MSE to clean (0 without it)."""
  err = 0.0 if clean is None else jnp.mean((image - clean) ** 2)
  return jnp.stack([jnp.mean(image), jnp.mean((image - y) ** 2),
                    jnp.asarray(err, jnp.float32)])


def _probe_ref(image, y, clean):
  """_probe in numpy float64, on the host (the independent reference)."""
  image, y = np.asarray(image, np.float64), np.asarray(y, np.float64)
  err = 0.0 if clean is None else np.mean((image - clean) ** 2)
  return np.array([image.mean(), np.mean((image - y) ** 2), err])


class ProbeTest(absltest.TestCase):
  """fit(probe=...): a function of the current output at every log step."""

  def _two(self, steps, log_every):
    c = common.base_config('test')
    c.model.depth, c.model.k = 2, 8
    c.fit.steps, c.fit.log_every = steps, log_every
    c.fit.jitter_std = 0.05  # The probe sees the output without jitter.
    rng = np.random.default_rng(1)
    ys = jnp.asarray(rng.random((2, 16, 16, 3)), jnp.float32)
    clean = jnp.asarray(rng.random((2, 16, 16, 3)), jnp.float32)
    spec = models.make_model(c.model, ys.shape[1:])
    return c, spec, ys, clean, jax.random.split(jax.random.key(3), 2)

  def _fit(self, c, spec, ys, clean, keys, **kw):
    return fit.fit(keys, spec, lambda x, a: x, ys, {}, optim_cfg=c.optim,
                   fit_cfg=c.fit, clean=clean, verbose=False, **kw)

  def test_the_fit_is_bit_identical_with_and_without_a_probe(self):
    c, spec, ys, clean, keys = self._two(8, 4)
    plain = self._fit(c, spec, ys, clean, keys)
    probed = self._fit(c, spec, ys, clean, keys, probe=_probe)
    np.testing.assert_array_equal(probed.losses, plain.losses)
    np.testing.assert_array_equal(probed.restored, plain.restored)
    for a, b in zip(jax.tree.leaves((probed.params, probed.best_params)),
                    jax.tree.leaves((plain.params, plain.best_params))):
      np.testing.assert_array_equal(a, b)
    for h_probed, h_plain in zip(probed.history, plain.history):
      self.assertNotIn('probe', h_plain)
      self.assertEqual(np.shape(h_probed.pop('probe')), (2, 3))
      for key in ('step', 'loss', 'psnr', 'psnr_current'):
        self.assertEqual(h_probed[key], h_plain[key])

  def test_recorded_values_are_the_probe_of_a_fit_stopped_there(self):
    """The value at step 4 of an 8-step fit is the probe (in numpy) of the
    output of a 4-step fit with the same keys; per image."""
    c, spec, ys, clean, keys = self._two(8, 4)
    probed = self._fit(c, spec, ys, clean, keys, probe=_probe)
    self.assertEqual([h['step'] for h in probed.history], [4, 8])
    c.fit.steps = 4
    short = self._fit(c, spec, ys, clean, keys)
    outs = jax.vmap(lambda p, z: spec.apply({'params': p}, z))(
        short.params, jnp.asarray(short.inputs))
    recorded = np.asarray(probed.history[0]['probe'])
    for i in range(2):
      np.testing.assert_allclose(
          recorded[i], _probe_ref(outs[i], ys[i], np.asarray(clean[i])),
          rtol=1e-5, atol=1e-7)
    self.assertFalse(np.allclose(recorded, probed.history[1]['probe']))

  def test_without_clean_the_probe_gets_none(self):
    c, spec, ys, _, keys = self._two(4, 4)
    res = self._fit(c, spec, ys, None, keys, probe=_probe)
    outs = jax.vmap(lambda p, z: spec.apply({'params': p}, z))(
        res.params, jnp.asarray(res.inputs))
    got = np.asarray(res.history[0]['probe'])
    np.testing.assert_array_equal(got[:, 2], 0.0)
    np.testing.assert_allclose(got[0], _probe_ref(outs[0], ys[0], None),
                               rtol=1e-5, atol=1e-7)

  def test_engine_records_the_history_of_each_image(self):
    """fit_images(probe=...) gives each record its history_probe; without
    the best iterate the last value is the probe of `restored`."""
    from dd_jax.fitting import engine
    c = common.base_config('test')
    c.data.size, c.model.depth, c.model.k = 16, 2, 8
    c.fit.steps, c.fit.log_every, c.fit.best_iterate = 6, 3, False
    rng = np.random.default_rng(2)
    clean = rng.random((2, 16, 16, 3)).astype(np.float32)
    res = engine.fit_images(c, clean=clean, probe=_probe, verbose=False)
    for rec in res:
      self.assertEqual(rec['history_probe'].shape, (2, 3))
      np.testing.assert_allclose(
          rec['history_probe'][-1],
          _probe_ref(rec['restored'], rec['y'], rec['clean']),
          rtol=1e-5, atol=1e-7)
    self.assertNotIn('history_probe',
                     engine.fit_images(c, clean=clean, verbose=False)[0])

class OptionsTest(absltest.TestCase):

  def test_optimizer_from_keyword_arguments(self):
    sched = fit.make_schedule(lr=0.01, schedule='step', decay_every=100,
                              decay_rate=0.65, steps=1000)
    self.assertAlmostEqual(float(sched(250)), 0.01 * 0.65 ** 2, places=8)
    params = {'w': jnp.ones(3)}
    grads = {'w': jnp.asarray([1.0, -2.0, 0.5])}
    cfg = ml_collections.ConfigDict(dict(name='adamw', lr=0.1,
                                         weight_decay=0.01))
    for tx, ref in ((fit.make_optimizer(name='adamw', lr=0.1,
                                        weight_decay=0.01, steps=10),
                     optax.adamw(0.1, weight_decay=0.01)),
                    (fit.optimizer_from_config(cfg, 10),
                     optax.adamw(0.1, weight_decay=0.01))):
      got, _ = tx.update(grads, tx.init(params), params)
      want, _ = ref.update(grads, ref.init(params), params)
      np.testing.assert_allclose(got['w'], want['w'], rtol=1e-6)

  def test_config_sections_are_the_library_defaults(self):
    c = common.base_config('full')
    self.assertEqual(fit.fit_options(c.fit), fit.FitOptions())
    self.assertEqual(fit.stop_options(c.fit), fit.StopOptions())
    self.assertEqual(c.optim.to_dict(), fit.optim_section().to_dict())
    opts = fit.fit_options(ml_collections.ConfigDict(dict(steps=5, ema=True)))
    self.assertEqual(opts, fit.FitOptions(steps=5, ema=True))

  def test_unknown_fields_fail_with_the_valid_ones(self):
    bad = ml_collections.ConfigDict(dict(steps=5, stepz=5))
    for build in (fit.fit_options, fit.stop_options):
      with self.assertRaisesRegex(UserError, r'fit\.stepz.*valid fields.*'
                                  r"'log_every'.*'patience'"):
        build(bad)
    with self.assertRaisesRegex(UserError, r"optim\.lrr.*valid fields.*'lr'"):
      fit.optimizer_from_config(ml_collections.ConfigDict(dict(lrr=1.0)), 10)


if __name__ == '__main__':
  absltest.main()
