"""Experiment helpers: tables, progress, fit_images == run.run, configs."""

import csv
import importlib
import io
import json
import os

import numpy as np
import pytest

from configs import common
from dd_jax import experiment as ex
from dd_jax import run as run_lib
from dd_jax.errors import UserError

EXPERIMENTS = ('table1', 'fig1_compression', 'fig4_fit_noise',
               'prop1_noise_fraction', 'appendix_b', 'fig6_activations',
               'sweep')


def test_write_table_csv_and_markdown(tmp_path):
  rows = [{'image': 'a', 'PSNR': 30.123, 'SSIM': 0.91234},
          {'image': 'b', 'PSNR': 28.0, 'extra': 'x'}]
  rows.append(ex.mean_row(rows, 'image', 'mean', ['PSNR', 'SSIM']))
  md = ex.write_table(rows, str(tmp_path), 't', title='T')
  with open(tmp_path / 't.csv') as f:
    back = list(csv.DictReader(f))
  assert [r['image'] for r in back] == ['a', 'b', 'mean']
  assert float(back[2]['PSNR']) == pytest.approx((30.123 + 28.0) / 2)
  assert float(back[2]['SSIM']) == pytest.approx(0.91234)  # b has none.
  assert back[0]['extra'] == ''
  lines = md.strip().splitlines()
  assert lines[0] == '## T'
  assert lines[2] == '| image | PSNR | SSIM | extra |'
  assert '| a | 30.12 | 0.9123 |  |' in lines
  assert (tmp_path / 't.md').read_text() == md


def test_progress_counts_and_eta():
  out = io.StringIO()
  bar = ex.Progress(200, 'x', stream=out)
  bar.update(50)
  assert '25.0%' in out.getvalue() and '50/200' in out.getvalue()
  bar.update(1000)  # Clamped.
  bar.close()
  assert '200/200' in out.getvalue() and out.getvalue().endswith('\n')


def _tiny(images='astronaut,camera,coffee'):
  c = common.base_config('test')
  c.data.images, c.data.size, c.data.channels = images, 16, 'rgb'
  c.model.depth, c.model.k = 2, 8
  c.fit.steps, c.fit.log_every = 4, 2
  return c


def test_fit_images_matches_run(tmp_path):
  """Same keys, grouping and measurements as the CLI's run()."""
  c = _tiny('astronaut,camera')
  summary = run_lib.run(c, str(tmp_path / 'wd'))
  names, clean = ex.load_images(c.data, 2)
  recs = ex.fit_images(c, names, clean)
  for rec in recs:
    want = summary['images'][rec['name']]
    assert rec['psnr'] == pytest.approx(want['psnr_restored'], abs=1e-4)
    assert rec['ssim'] == pytest.approx(want['ssim_restored'], abs=1e-4)
    assert rec['psnr_corrupted'] == pytest.approx(want['psnr_corrupted'],
                                                  abs=1e-4)
    assert rec['restored'].shape == rec['clean'].shape == (16, 16, 3)
    assert len(rec['history'][0]) == 2


@pytest.mark.parametrize('name', EXPERIMENTS)
@pytest.mark.parametrize('preset', ['full', 'cpu', 'test'])
def test_experiment_configs_build(name, preset):
  mod = importlib.import_module(f'experiments.{name}.config')
  c = mod.get_config(preset)
  assert c.to_json()
  assert os.path.isfile(os.path.join(os.path.dirname(mod.__file__),
                                     'README.md'))


def test_sweep_overrides():
  from experiments.sweep import run as sweep
  base = _tiny()
  c = sweep.apply_overrides(base, {'model.k': 32, 'fit.jitter_std': 0.1})
  assert c.model.k == 32 and c.fit.jitter_std == 0.1 and base.model.k == 8
  assert sweep.label({'model.k': 32}) == 'model.k=32'
  with pytest.raises(UserError, match='unknown field'):
    sweep.apply_overrides(base, {'model.kk': 1})
  with pytest.raises(UserError, match='no config section'):
    sweep.apply_overrides(base, {'nope.k': 1})
