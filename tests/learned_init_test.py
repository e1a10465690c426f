"""experiments/learned_init: a run stopped during meta-learning resumes to
the same init and tables; a saved init is evaluated without training."""

import json
import os

import jax
import numpy as np
import pytest

from dd_jax import models
from dd_jax.fitting import checkpoint as ckpt_lib
from dd_jax.fitting import interrupt
from dd_jax.fitting import meta
from dd_jax.io import workdir as workdir_lib
from experiments.learned_init import config as li_config
from experiments.learned_init import run as li


def _config(**fields):
  c = li_config.get_config('test')
  c.data.images, c.bias.images = 'camera', 'shepp_logan'
  c.fit.steps, c.fit.log_every, c.eval.report_steps = 4, 2, (2, 4)
  c.train.meta.outer_steps = 3
  for k, v in fields.items():
    c[k] = v
  return c


def _arrays(path):
  return [np.asarray(a) for a in jax.tree.leaves(models.load_init(path).params)]


def _psnrs(workdir):
  """Every PSNR results.json holds (the wall times apart)."""
  with open(os.path.join(workdir, 'results.json')) as f:
    rows = json.load(f)['images']
  return [(r['name'], init, r[init]['final'], r[init]['psnr_current'])
          for r in rows for init in li.INITS]


def test_stopped_meta_learning_resumes_to_the_same_results(tmp_path,
                                                           monkeypatch):
  whole = str(tmp_path / 'whole')
  li.run(_config(), whole)

  real = meta.crop_sampler

  def stopping(*args, **kwargs):
    sample = real(*args, **kwargs)

    def at(i):
      if i == 1:
        interrupt.request()  # A Ctrl-C during outer step 1.
      return sample(i)
    return at

  wd = str(tmp_path / 'stopped')
  ckpt = os.path.join(wd, workdir_lib.CHECKPOINT)
  monkeypatch.setattr(meta, 'crop_sampler', stopping)
  try:
    with ckpt_lib.session(ckpt, 0), pytest.raises(interrupt.Interrupted):
      li.run(_config(), wd)
  finally:
    interrupt._requested[0] = None
  assert not os.path.exists(os.path.join(wd, 'init'))
  monkeypatch.setattr(meta, 'crop_sampler', real)
  c = _config()
  c.output.resume = True
  with ckpt_lib.session(ckpt, 0):
    li.run(c, wd)
  for a, b in zip(_arrays(os.path.join(wd, 'init')),
                  _arrays(os.path.join(whole, 'init'))):
    np.testing.assert_array_equal(a, b)
  assert _psnrs(wd) == _psnrs(whole)


def test_a_saved_init_is_evaluated_without_training(tmp_path):
  first = str(tmp_path / 'first')
  li.run(_config(), first)
  wd = str(tmp_path / 'again')
  res = li.run(_config(init_from=os.path.join(first, 'init')), wd)
  assert not os.path.exists(os.path.join(wd, 'init'))
  assert res['init'] == os.path.join(first, 'init')
  assert os.path.isfile(os.path.join(wd, 'summary.md'))
  assert _psnrs(wd) == _psnrs(first)


def test_training_and_evaluated_images_must_differ(tmp_path):
  from dd_jax.errors import UserError
  c = _config()
  c.train.images = 'camera,coffee'
  with pytest.raises(UserError, match='share'):
    li.run(c, str(tmp_path / 'x'))
  assert not os.path.exists(tmp_path / 'x')
