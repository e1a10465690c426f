"""End to end: the launcher as a user runs it, in a temporary workdir."""

import json
import os
import shutil
import subprocess
import sys
import tempfile

from absl.testing import absltest

from dd_jax.io import images as data
from dd_jax.io import workdir
from tests.conftest import REPO


def launch(*args, timeout=600):
  env = dict(os.environ, PYTHONPATH=REPO)
  return subprocess.run([sys.executable, '-m', 'dd_jax.main', *args],
                        cwd=REPO, env=env, capture_output=True, text=True,
                        timeout=timeout)


def strict_json_only(name):
  raise ValueError(f'{name} in strict JSON')


class MainTest(absltest.TestCase):

  def tmpdir(self):
    path = tempfile.mkdtemp()
    self.addCleanup(shutil.rmtree, path, ignore_errors=True)
    return path

  def test_denoise_test_config_writes_everything(self):
    wd = self.tmpdir()
    out = launch('--config=configs/denoise.py:test', f'--workdir={wd}',
                 '--config.fit.steps=30', '--config.fit.log_every=15')
    self.assertEqual(out.returncode, 0, out.stderr[-3000:])
    for name in ('config.json', 'metrics.jsonl', 'astronaut_clean.png',
                 'astronaut_corrupted.png', 'astronaut_restored.png',
                 'psnr.png', 'summary.json', 'summary.txt'):
      self.assertTrue(os.path.isfile(os.path.join(wd, name)), name)
    with open(os.path.join(wd, 'config.json')) as f:
      self.assertEqual(json.load(f)['fit']['steps'], 30)
    with open(os.path.join(wd, 'metrics.jsonl')) as f:
      records = [json.loads(line) for line in f]
    self.assertEqual([r['step'] for r in records], [15, 30])
    self.assertIn('psnr', records[0])
    with open(os.path.join(wd, 'summary.json')) as f:
      summary = json.load(f, parse_constant=strict_json_only)
    rec = summary['images']['astronaut']
    self.assertGreater(rec['psnr_restored'], 10)
    self.assertEqual(summary['inputs'], {'astronaut': 'astronaut'})
    self.assertEqual(workdir.read_marker(wd)['status'], 'finished')
    self.assertIn('->', open(os.path.join(wd, 'summary.txt')).read())
    self.assertIn('steps/s', out.stdout)
    restored = data.load_image(os.path.join(wd, 'astronaut_restored.png'))
    self.assertEqual(restored.shape, (64, 64, 3))

    # A second run into the same workdir is refused, with one clear line.
    again = launch('--config=configs/denoise.py:test', f'--workdir={wd}')
    self.assertEqual(again.returncode, 2)
    self.assertIn('already holds a run', again.stderr)
    self.assertNotIn('Traceback', again.stderr)

  def test_two_images_and_measurement_only(self):
    tmp = self.tmpdir()
    for i in range(2):
      data.save_png(os.path.join(tmp, f'img{i}.png'),
                    data.synthetic_image(i, (32, 32)))
    wd = os.path.join(tmp, 'run')
    out = launch('--config=configs/inpaint.py:test', f'--workdir={wd}',
                 f'--config.data.images={tmp}', '--config.data.size=0',
                 '--config.fit.steps=10')
    self.assertEqual(out.returncode, 0, out.stderr[-3000:])
    self.assertIn('2 image(s)', out.stdout)
    summary = json.load(open(os.path.join(wd, 'summary.json')))
    self.assertEqual(sorted(summary['images']), ['img0', 'img1'])
    self.assertEqual(summary['inputs'],
                     {f'img{i}': os.path.join(tmp, f'img{i}.png')
                      for i in range(2)})

    # Overwritten by a run of another kind: nothing of the first one stays.
    out = launch('--config=configs/denoise.py:test', f'--workdir={wd}',
                 f'--config.data.measurement={tmp}/img0.png',
                 '--config.fit.steps=10', '--config.output.overwrite=True')
    self.assertEqual(out.returncode, 0, out.stderr[-3000:])
    self.assertIn('no clean image', out.stdout)
    self.assertEqual(sorted(os.listdir(wd)), [
        '.dd_jax_run', 'config.json', 'img0_corrupted.png',
        'img0_restored.png', 'metrics.jsonl', 'psnr.png', 'summary.json',
        'summary.txt'])
    with open(os.path.join(wd, 'config.json')) as f:
      self.assertEqual(json.load(f)['operator']['name'], 'identity')
    with open(os.path.join(wd, 'metrics.jsonl')) as f:
      self.assertEqual([json.loads(l)['step'] for l in f], [10])


if __name__ == '__main__':
  absltest.main()
