"""Every config loads for every preset; the arg parser rejects bad args."""

import glob
import importlib.util
import os

from absl.testing import absltest
from absl.testing import parameterized

from configs import common
from dd_jax import models
from tests.conftest import REPO

# Launchable configs are the files that define get_config (not helpers).
CONFIG_FILES = sorted(
    f for f in glob.glob(os.path.join(REPO, 'configs', '*.py'))
    if 'def get_config(' in open(f).read())


def load(path):
  spec = importlib.util.spec_from_file_location('cfg', path)
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module


class ConfigsTest(parameterized.TestCase):

  def test_found_configs(self):
    names = {os.path.basename(f) for f in CONFIG_FILES}
    self.assertContainsSubset({'denoise.py', 'inpaint.py', 'superres.py'},
                              names)

  @parameterized.parameters(*CONFIG_FILES)
  def test_presets_load(self, path):
    module = load(path)
    self.assertIn('--config=configs/', module.__doc__)
    sizes = {}
    for preset in common.PRESETS:
      c = module.get_config(preset)
      for section in ('model', 'operator', 'optim', 'fit', 'data', 'output'):
        self.assertIn(section, c)
      sizes[preset] = c.fit.steps
    self.assertLess(sizes['test'], sizes['cpu'])
    self.assertLessEqual(sizes['cpu'], sizes['full'])

  def test_paper_defaults(self):
    c = load(os.path.join(REPO, 'configs', 'denoise.py')).get_config()
    self.assertEqual((c.model.k, c.model.depth, c.data.size), (128, 6, 512))
    self.assertGreaterEqual(c.fit.steps, 1900)
    self.assertEqual(c.optim.lr, 0.01)
    spec = models.make_model(c.model, (512, 512, 3))
    self.assertEqual(spec.num_params(), 100_224)

  def test_denoise_fast_schedule(self):
    """fast=true: warm-up to lr 0.03, cosine to 0.03x, 1000 of 1900 steps."""
    from dd_jax import fitting as fit
    module = load(os.path.join(REPO, 'configs', 'denoise.py'))
    c = module.get_config('full,fast=true')
    self.assertEqual((c.fit.steps, c.optim.warmup_steps), (1000, 50))
    lr = fit.schedule_from_config(c.optim, c.fit.steps)
    self.assertAlmostEqual(float(lr(0)), 0.0)
    self.assertAlmostEqual(float(lr(50)), 0.03, places=6)
    self.assertAlmostEqual(float(lr(1000)), 0.0009, places=6)
    self.assertEqual(module.get_config('full').optim.schedule, 'constant')
    for preset in ('cpu', 'test'):
      c = module.get_config(f'{preset},fast=true')
      self.assertLessEqual(c.optim.warmup_steps, c.fit.steps // 10)
      self.assertGreater(float(fit.schedule_from_config(c.optim, c.fit.steps)(
          c.optim.warmup_steps)), 0.029)

  def test_arg_parsing(self):
    a = common.parse_arg('cpu,sigma=50', sigma=25.0, k=0)
    self.assertEqual((a.preset, a.sigma, a.k), ('cpu', 50.0, 0))
    with self.assertRaisesRegex(ValueError, 'Unknown config arg'):
      common.parse_arg('sigmaa=3', sigma=25.0)
    with self.assertRaisesRegex(ValueError, 'preset'):
      common.parse_arg('fast')


if __name__ == '__main__':
  absltest.main()
