"""experiments/real_noise: a given folder of pairs is paired, fitted and
scored; CBM3D's column says when the package is missing; bad folders are
refused before the workdir is touched."""

import importlib.util
import json
import os

import numpy as np
import pytest

from dd_jax.errors import UserError
from dd_jax.inverse import camera_noise
from experiments.real_noise import config as rn_config
from experiments.real_noise import run as rn


def _config(folder):
  c = rn_config.get_config('test')
  c.data.folder = folder
  return c


def test_a_folder_of_pairs_is_fitted_and_scored(tmp_path):
  folder = str(tmp_path / 'bench')
  recs = camera_noise.write_pairs(folder, ['astronaut', 'coffee'], size=32,
                                  seed=3, bayer=False)
  workdir = str(tmp_path / 'run')
  res = rn.run(_config(folder), workdir)
  assert list(res['images']) == ['astronaut', 'coffee']
  for rec in recs:
    e = res['images'][rec['scene']]
    assert e['noisy_file'] == rec['real'] and e['reference_file'] == rec['mean']
    assert abs(e['true_std'] - rec['true_std']) < 1e-6
    assert 0 < e['sigma_est'] < 1 and np.isfinite(e['dd']['psnr'])
    # MSE = std^2 + mean^2 of noisy - reference: PSNR <= -20 log10(std).
    top = -20 * np.log10(rec['true_std'])
    assert top - 3 < e['noisy']['psnr'] <= top + 1e-6
  with open(os.path.join(workdir, 'results.md')) as f:
    md = f.read()
  assert '| mean |' in md
  if importlib.util.find_spec('bm3d') is None:
    assert res['cbm3d'] == rn.NOT_INSTALLED and 'not installed' in md
  else:
    assert 'cbm3d' in res['images']['astronaut']
  with open(os.path.join(workdir, 'results.json')) as f:
    assert json.load(f)['camera'] is None  # Given pairs: no generator.
  assert not os.path.exists(os.path.join(workdir, rn.PAIRS))


def test_unpaired_files_and_a_missing_folder_are_refused_first(tmp_path):
  folder = str(tmp_path / 'bench')
  camera_noise.write_pairs(folder, ['astronaut'], size=32)
  os.remove(os.path.join(folder, 'astronaut_mean.png'))
  workdir = str(tmp_path / 'run')
  with pytest.raises(UserError, match='without a reference'):
    rn.run(_config(folder), workdir)
  with pytest.raises(UserError, match='not a folder'):
    rn.run(_config(str(tmp_path / 'nothing')), workdir)
  assert not os.path.exists(workdir)


def test_cbm3d_off_or_missing_is_said_in_every_cbm3d_cell():
  results = dict(cbm3d=rn.SKIPPED, images={'a': dict(
      sigma_est=0.01, true_std=0.02, noisy=dict(psnr=30.0, ssim=0.9),
      dd=dict(psnr=31.0, ssim=0.92, seconds=1.0))})
  rows = rn.rows(results)
  assert [r['CBM3D PSNR'] for r in rows] == [rn.SKIPPED] * 2
  assert rows[-1]['DD PSNR'] == 31.0 and rows[-1]['image'] == 'mean'
