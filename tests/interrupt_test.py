"""Ctrl-C mid-fit through the real launcher: one line, exit 130, a checkpoint
and the results so far; the same command refuses, resume=True continues, a
changed config is refused by name; the resumed run equals an uninterrupted
one (restored PNG, metrics history)."""

import json
import os
import signal
import subprocess
import sys
import tempfile
import time

from absl.testing import absltest

from tests.conftest import REPO

STEPS = 2000
ARGS = ['--config=configs/denoise.py:test', f'--config.fit.steps={STEPS}',
        '--config.fit.log_every=100', '--config.output.checkpoint_every_s=0']


def launch(workdir, *extra, wait=True):
  cmd = [sys.executable, '-m', 'dd_jax.main', *ARGS, f'--workdir={workdir}',
         *extra]
  proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True)
  if not wait:
    return proc
  out, err = proc.communicate(timeout=900)
  return proc.returncode, out, err


def history(workdir):
  with open(os.path.join(workdir, 'metrics.jsonl')) as f:
    recs = [json.loads(line) for line in f]
  return [(r['step'], r['loss'], r.get('psnr')) for r in recs]


def read(path):
  with open(path, 'rb') as f:
    return f.read()


class InterruptTest(absltest.TestCase):

  def test_sigint_then_resume_equals_uninterrupted(self):
    tmp = tempfile.mkdtemp()
    whole, cut = os.path.join(tmp, 'whole'), os.path.join(tmp, 'cut')
    proc = launch(cut, wait=False)
    metrics = os.path.join(cut, 'metrics.jsonl')
    deadline = time.time() + 600
    while proc.poll() is None and time.time() < deadline:
      if os.path.isfile(metrics) and os.path.getsize(metrics) > 0:
        break  # The fit is running: its first record is written.
      time.sleep(0.2)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=600)
    self.assertEqual(proc.returncode, 130, err)
    self.assertNotIn('Traceback', err)
    self.assertNotIn('Fatal Python error', err)
    lines = [l for l in err.splitlines() if l.startswith('interrupted at')]
    self.assertLen(lines, 1, err)
    self.assertIn('--config.output.resume=True', lines[0])
    with open(os.path.join(cut, 'summary.json')) as f:
      summary = json.load(f)
    self.assertLess(summary['interrupted']['step'], STEPS)
    self.assertTrue(os.path.isfile(os.path.join(cut, 'astronaut_restored.png')))
    self.assertTrue(os.path.isdir(os.path.join(cut, 'checkpoint')))

    code, _, err = launch(whole)
    self.assertEqual(code, 0, err)
    code, _, err = launch(cut)  # The same command: refused, resume named.
    self.assertEqual(code, 2)
    self.assertIn('output.resume=True', err)
    code, _, err = launch(cut, '--config.output.resume=True',
                          '--config.fit.log_every=25')
    self.assertEqual(code, 2)
    self.assertIn('fit.log_every: 100 -> 25', err)

    code, _, err = launch(cut, '--config.output.resume=True')
    self.assertEqual(code, 0, err)
    self.assertIn('resuming', err + _)
    self.assertEqual(history(cut), history(whole))
    self.assertEqual(read(os.path.join(cut, 'astronaut_restored.png')),
                     read(os.path.join(whole, 'astronaut_restored.png')))
    with open(os.path.join(cut, 'summary.json')) as f:
      self.assertNotIn('interrupted', json.load(f))
    self.assertFalse(os.path.exists(os.path.join(cut, 'checkpoint')))


if __name__ == '__main__':
  absltest.main()
