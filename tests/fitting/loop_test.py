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
