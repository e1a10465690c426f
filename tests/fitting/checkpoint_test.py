"""Checkpoints and resume: an interrupted fit resumed from its checkpoint ends
bit-identical to an uninterrupted one (CPU), its history included."""

import os
import tempfile

from absl.testing import absltest
import jax
import numpy as np

from configs import denoise
from dd_jax import fit_images
from dd_jax.fitting import checkpoint
from dd_jax.fitting import interrupt
from dd_jax.io import images


def small_config():
  c = denoise.get_config('test')
  c.fit.steps, c.fit.log_every = 30, 10
  c.fit.stop, c.fit.patience = 'validation', 100  # a stopper with state
  return c


class ResumeTest(absltest.TestCase):

  def test_resumed_fit_equals_uninterrupted(self):
    c = small_config()
    xs = [images.synthetic_image(i, (32, 32)) for i in range(2)]
    full = fit_images(c, clean=xs, verbose=False)
    ckpt = checkpoint.RunCheckpoint(tempfile.mkdtemp(), every_s=0)

    def stop_at_10(record):
      if record['step'] == 10:
        interrupt.request()

    try:
      with self.assertRaises(interrupt.Interrupted) as cm:
        fit_images(c, clean=xs, verbose=False, checkpoint=ckpt,
                   callback=stop_at_10)
    finally:
      interrupt._requested[0] = None
    self.assertEqual(cm.exception.step, 10)
    self.assertEqual(cm.exception.exit_code, 130)
    partial = cm.exception.result
    self.assertEqual(partial[0]['steps_run'], 10)
    self.assertTrue(np.all(np.isfinite(partial[0]['restored'])))
    self.assertEqual(ckpt.describe(), 'group 0 at step 10/30')

    resumed = fit_images(c, clean=xs, verbose=False, checkpoint=ckpt)
    self.assertEqual(ckpt.describe(), 'group 0 finished')
    for a, b in zip(full, resumed):
      np.testing.assert_array_equal(a['restored'], b['restored'])
      np.testing.assert_array_equal(a['losses'], b['losses'])
      self.assertEqual(a['history'], b['history'])
      self.assertEqual(a['history_loss'], b['history_loss'])
      for p, q in zip(jax.tree.leaves(a['best_params']),
                      jax.tree.leaves(b['best_params'])):
        np.testing.assert_array_equal(p, q)
    np.testing.assert_array_equal(
        full.groups[0]['stopper'].stop_steps,
        resumed.groups[0]['stopper'].stop_steps)
    # A finished group is read back, not fitted again.
    again = fit_images(c, clean=xs, verbose=False, checkpoint=ckpt)
    np.testing.assert_array_equal(again[1]['restored'], full[1]['restored'])


class ConfigDiffTest(absltest.TestCase):

  def test_names_the_fields_that_differ(self):
    old = {'fit': {'steps': 10, 'lr': 1}, 'output': {'resume': False}}
    new = {'fit': {'steps': 20, 'lr': 1}, 'output': {'resume': True},
           'seed': 3}
    self.assertEqual(checkpoint.config_diff(old, new),
                     ['fit.steps: 10 -> 20', "seed: '<absent>' -> 3"])

  def test_a_field_added_since_at_its_off_value_is_no_change(self):
    old = {'model': {'k': 8}, 'data': {'images': 'a'}}
    new = {'model': {'k': 8, 'init_from': ''},
           'data': {'images': 'a', 'reference': '', 'complex': False}}
    self.assertEqual(checkpoint.config_diff(old, new), [])
    new['model']['init_from'] = 'runs/x/init'  # switched on: a change
    self.assertEqual(checkpoint.config_diff(old, new),
                     ["model.init_from: '<absent>' -> 'runs/x/init'"])


if __name__ == '__main__':
  absltest.main()


class SessionTest(absltest.TestCase):

  def test_launcher_calls_resume_call_by_call(self):
    """Inside a session (experiment launchers, dd_jax.run) every fit_images
    call checkpoints on its own; in a new session a finished call is read
    back, not fitted."""
    c = denoise.get_config('test')
    c.fit.steps, c.fit.log_every = 6, 3
    xs = [images.synthetic_image(0, (32, 32))]
    folder = tempfile.mkdtemp()
    with checkpoint.session(folder, every_s=0):
      first = [fit_images(c, clean=xs, verbose=False) for _ in range(2)]
    self.assertEqual(sorted(os.listdir(folder)), ['call_0', 'call_1'])
    with checkpoint.session(folder, every_s=0) as s:
      with self.assertLogs('absl', 'INFO') as logs:
        again = fit_images(c, clean=xs, verbose=False)
      self.assertEqual(s.calls, 1)
    self.assertTrue(any('resumed at step 6/6' in m for m in logs.output))
    np.testing.assert_array_equal(again[0]['restored'],
                                  first[0][0]['restored'])
