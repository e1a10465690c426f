"""The fit engine: grouping, keys, references, equal to run(), sharded."""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap

from absl.testing import absltest
import numpy as np

from configs import common
from dd_jax import run as run_lib
from dd_jax.fitting import engine
from dd_jax.fitting import keys
from dd_jax.inverse import operators
from dd_jax.io import images as data
from dd_jax.io import inputs
from tests.conftest import REPO


def tiny(images='astronaut,camera'):
  c = common.base_config('test')
  c.data.images, c.data.size, c.data.channels = images, 16, 'rgb'
  c.model.depth, c.model.k = 2, 8
  c.fit.steps, c.fit.log_every = 4, 2
  return c


def mixed_shapes():
  """Three images, two shapes: [16, 16, 3], [24, 16, 3], [16, 16, 3]."""
  return [data.synthetic_image(0, (16, 16)), data.synthetic_image(1, (24, 16)),
          data.synthetic_image(2, (16, 16))]


class EngineTest(absltest.TestCase):

  def tmpdir(self):
    path = tempfile.mkdtemp()
    self.addCleanup(shutil.rmtree, path, ignore_errors=True)
    return path

  def test_groups_by_shape_in_order(self):
    shapes = [x.shape for x in mixed_shapes()]
    self.assertEqual(list(engine.groups_by_shape(shapes).values()),
                     [[0, 2], [1]])

  def test_grouped_fit_equals_fitting_each_image_alone(self):
    c = tiny()
    clean = mixed_shapes()
    together = engine.fit_images(c, clean=clean, verbose=False)
    self.assertEqual([g['images'] for g in together.groups], [[0, 2], [1]])
    for i, x in enumerate(clean):
      alone = engine.fit_images(c, clean=[x], indices=[i], verbose=False)[0]
      np.testing.assert_allclose(together[i]['y'], alone['y'], atol=1e-6)
      np.testing.assert_allclose(together[i]['restored'], alone['restored'],
                                 atol=1e-5)
      np.testing.assert_allclose(together[i]['losses'], alone['losses'],
                                 rtol=1e-4)
      self.assertAlmostEqual(together[i]['psnr'], alone['psnr'], places=3)

  def test_image_keys_come_from_keys_module(self):
    """Image i's measurement noise is noise_key(image_key(root, i))."""
    c = tiny()
    x = data.synthetic_image(0, (16, 16))
    rec = engine.fit_images(c, clean=[x, x], verbose=False)[1]
    k = keys.noise_key(keys.image_key(keys.root_key(c.seed), 1))
    op = operators.make_operator(c.operator, x.shape)
    want = operators.measure(k, x, op, {}, c.operator)
    np.testing.assert_allclose(rec['y'], want, atol=1e-6)
    self.assertGreater(np.abs(rec['y'] - x).max(), 1e-3)  # Noise was added.

  def test_clean_reference_is_used_for_metrics_only(self):
    c = tiny()
    clean = np.stack([data.synthetic_image(i, (16, 16)) for i in range(2)])
    ys = np.clip(clean + 0.1 * np.random.default_rng(0).normal(
        size=clean.shape), 0, 1).astype(np.float32)
    blind = engine.fit_images(c, measurements=ys, verbose=False)
    ref = engine.fit_images(c, measurements=ys, clean=clean, verbose=False)
    for a, b, x, y in zip(blind, ref, clean, ys):
      np.testing.assert_array_equal(a['restored'], b['restored'])
      np.testing.assert_array_equal(a['losses'], b['losses'])
      np.testing.assert_array_equal(b['y'], y)  # Fitted as given.
      self.assertNotIn('psnr', a)
      self.assertIsNone(a['history'][1])
      self.assertAlmostEqual(b['psnr'], engine.psnr(b['restored'], x),
                             places=4)
      self.assertAlmostEqual(b['psnr_corrupted'], engine.psnr(y, x), places=4)
      self.assertLen(b['history'][1], 2)

  def test_engine_matches_run(self):
    """Same keys, grouping and measurements as the CLI's run()."""
    c = tiny('astronaut,camera')
    summary = run_lib.run(c, os.path.join(self.tmpdir(), 'wd'))
    names, clean = inputs.load_images(c.data, 2)
    recs = engine.fit_images(c, clean=clean, names=names, verbose=False)
    for rec in recs:
      want = summary['images'][rec['name']]
      self.assertAlmostEqual(rec['psnr'], want['psnr_restored'], places=4)
      self.assertAlmostEqual(rec['ssim'], want['ssim_restored'], places=4)
      self.assertAlmostEqual(rec['psnr_corrupted'], want['psnr_corrupted'],
                             places=4)
      self.assertEqual(rec['restored'].shape, (16, 16, 3))
      self.assertEqual(rec['clean'].shape, (16, 16, 3))
      self.assertLen(rec['history'][0], 2)


# Runs experiments/conv_vs_1x1's test preset and prints the engine's group
# records: XLA_FLAGS must be set before jax is imported.
_EXPERIMENT_SCRIPT = textwrap.dedent('''
    import json, sys
    import jax
    from dd_jax.fitting import engine
    from experiments.conv_vs_1x1 import config, run
    groups = []
    fit_images = engine.fit_images
    def spy(*args, **kwargs):
      result = fit_images(*args, **kwargs)
      groups.extend(result.groups)
      return result
    engine.fit_images = spy
    run.run(config.get_config('test'), sys.argv[1])
    print('RESULT', json.dumps({
        'devices': len(jax.devices()),
        'groups': [dict(devices=g['devices'], sharded=g['sharded'],
                        images=len(g['images'])) for g in groups]}))
''')


class ShardedExperimentTest(absltest.TestCase):

  def test_experiment_fits_are_sharded_over_four_devices(self):
    workdir = os.path.join(tempfile.mkdtemp(), 'wd')
    self.addCleanup(shutil.rmtree, os.path.dirname(workdir),
                    ignore_errors=True)
    env = dict(os.environ, PYTHONPATH=REPO, JAX_PLATFORMS='cpu',
               XLA_FLAGS='--xla_force_host_platform_device_count=4')
    proc = subprocess.run(
        [sys.executable, '-c', _EXPERIMENT_SCRIPT, workdir], env=env,
        cwd=REPO, capture_output=True, text=True, timeout=600)
    self.assertEqual(proc.returncode, 0, proc.stderr[-3000:])
    line = [l for l in proc.stdout.splitlines() if l.startswith('RESULT')][-1]
    out = json.loads(line[len('RESULT'):])
    self.assertEqual(out['devices'], 4)
    self.assertLen(out['groups'], 2)  # One fit per (p, k) of the pair.
    for g in out['groups']:
      self.assertEqual(g, dict(devices=4, sharded=True, images=1))
    self.assertTrue(os.path.isfile(os.path.join(workdir, 'results.md')))


if __name__ == '__main__':
  absltest.main()
