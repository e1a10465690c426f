"""engine.fit_variants: settings as entries of one compiled call equal the
separate fits; grouping and refusals."""

import numpy as np
import pytest

from configs import common
from dd_jax.errors import UserError
from dd_jax.fitting import engine


def _base():
  c = common.base_config('test')
  c.model.k, c.model.depth = 4, 2
  c.fit.steps, c.fit.log_every = 6, 3
  c.fit.jitter_decay_every = 2  # the decay fires within the fit
  # As in fit_test's batch == separate: best iterate off (a discontinuous
  # choice a rounding difference can flip) and float32 rounding tolerances
  # (a batch of 10 entries vs 2 rounds the convs differently).
  c.fit.best_iterate = False
  c.operator.noise.sigma = 0.1
  return c


def _variant(**fields):
  c = _base()
  for key, value in fields.items():
    section, _, leaf = key.rpartition('.')
    node = c
    for part in filter(None, section.split('.')):
      node = node[part]
    node[leaf] = value
  return c


XS = np.random.default_rng(0).uniform(0, 1, (2, 16, 16, 3)).astype(np.float32)
VARIANTS = [{}, {'seed': 3}, {'operator.noise.sigma': 0.2},
            {'optim.lr': 0.02}, {'fit.jitter_std': 0.05}]


def test_one_call_equals_the_separate_fits():
  configs = [_variant(**v) for v in VARIANTS]
  grouped = engine.fit_variants(configs, clean=XS, verbose=False)
  assert len(grouped) == len(configs)
  for v, c in enumerate(configs):
    alone = engine.fit_images(c, clean=XS, verbose=False)
    for i in range(len(XS)):
      g, a = grouped[v][i], alone[i]
      np.testing.assert_array_equal(g['y'], a['y'])  # keys, noise
      np.testing.assert_allclose(g['restored'], a['restored'], atol=1e-5)
      np.testing.assert_allclose(g['losses'], a['losses'], rtol=1e-4)
      assert g['psnr'] == pytest.approx(a['psnr'], abs=1e-3)
  assert grouped[0].groups[0]['variants'] == len(configs)


def test_variants_with_ensembles_keep_the_member_keys():
  configs = [_variant(**{'fit.ensemble': 2}),
             _variant(**{'fit.ensemble': 2, 'seed': 5})]
  grouped = engine.fit_variants(configs, clean=XS[:1], verbose=False)
  for v, c in enumerate(configs):
    alone = engine.fit_images(c, clean=XS[:1], verbose=False)[0]
    np.testing.assert_allclose(grouped[v][0]['members'], alone['members'],
                               atol=1e-5)


def test_variant_groups_and_refusals():
  configs = [_base(), _variant(seed=2), _variant(**{'model.k': 8}),
             _variant(**{'optim.lr': 0.5}), _variant(**{'fit.stop':
                                                         'validation'})]
  assert engine.variant_groups(configs) == [[0, 1, 3], [2], [4]]
  with pytest.raises(UserError, match='model.k'):
    engine.fit_variants(configs[:3], clean=XS, verbose=False)
  with pytest.raises(UserError, match='fit.stop=budget'):
    engine.fit_variants([configs[4], configs[4]], clean=XS, verbose=False)


def test_run_variants_writes_each_run_as_alone(tmp_path):
  import json
  import os
  from dd_jax import run as run_lib
  configs = []
  for seed in (0, 4):
    c = _variant(seed=seed)
    c.data.images, c.data.size, c.data.channels = 'astronaut,coffee', 16, 'rgb'
    configs.append(c)
  dirs = [str(tmp_path / f'v{i}') for i in range(2)]
  grouped = run_lib.run_variants(configs, dirs)
  alone = run_lib.run(configs[1], str(tmp_path / 'alone'))
  for name in ('astronaut', 'coffee'):
    assert grouped[1]['images'][name]['psnr_restored'] == pytest.approx(
        alone['images'][name]['psnr_restored'], abs=1e-3)
  for d in dirs:
    with open(os.path.join(d, 'metrics.jsonl')) as f:
      recs = [json.loads(line) for line in f]
    assert [r['step'] for r in recs] == [3, 6]
    assert all(len(r['loss']) == 2 and 'variants' not in r for r in recs)
    assert os.path.isfile(os.path.join(d, 'astronaut_restored.png'))
  assert grouped[0]['images']['astronaut']['psnr_restored'] != grouped[1][
      'images']['astronaut']['psnr_restored']
