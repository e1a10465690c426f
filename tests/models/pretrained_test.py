"""model.init_from: saved inits load, check against the model, start fits."""

import os
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from configs import common
from dd_jax import models
from dd_jax.errors import UserError
from dd_jax.fitting import engine
from tests.conftest import REPO

SHAPE = (16, 16, 3)


def _cfg(k=8):
  c = common.base_config('test')
  c.model.k, c.model.depth = k, 2
  c.data.size, c.data.channels = 16, 'rgb'
  c.fit.steps, c.fit.log_every = 2, 1
  c.fit.best_iterate = False
  return c


def _saved(tmp_path, c, seed=3):
  """A saved init with weights and input unlike the random init's."""
  module = models.make_model(c.model, SHAPE)
  key = jax.random.key(seed)
  z = 0.1 + jax.random.uniform(key, module.input_shape)
  params = jax.tree.map(lambda a: a * 1.5 + 0.01,
                        module.init(jax.random.key(seed + 1), z)['params'])
  path = str(tmp_path / 'init')
  models.save_init(path, params, z, model_cfg=c.model,
                   info=dict(image_shape=list(SHAPE)))
  return path, params, np.asarray(z)


def test_saved_init_round_trips_and_starts_the_model(tmp_path):
  c = _cfg()
  path, params, z = _saved(tmp_path, c)
  c.model.init_from = path
  model = models.make_model(c.model, SHAPE)
  assert isinstance(model, models.Pretrained)
  got = model.init(jax.random.key(0), None)['params']
  for a, b in zip(jax.tree.leaves(got), jax.tree.leaves(params)):
    np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
  np.testing.assert_array_equal(np.asarray(model.init_input(
      jax.random.key(9))), z)
  assert model.num_params() == models.param_count(params)  # delegated
  assert 'init from' in model.describe()
  assert 'layer_0' in models.summary_table(model, jnp.asarray(z))


def test_a_fit_from_init_from_starts_at_the_saved_weights(tmp_path):
  """The first step's loss is the saved net's MSE on the measurement."""
  c = _cfg()
  path, params, z = _saved(tmp_path, c)
  c.model.init_from = path
  x = np.random.default_rng(0).uniform(0, 1, SHAPE).astype(np.float32)
  rec = engine.fit_images(c, clean=[x], verbose=False)[0]
  module = models.make_model(_cfg().model, SHAPE)
  out = np.asarray(module.apply({'params': params}, jnp.asarray(z)),
                   np.float64)
  want = np.mean((out - np.asarray(rec['y'], np.float64)) ** 2)
  assert rec['losses'][0] == pytest.approx(want, rel=1e-4)
  np.testing.assert_array_equal(np.asarray(rec['input']), z)


def test_init_from_that_does_not_fit_the_model_is_one_clear_error(tmp_path):
  c = _cfg(k=8)
  path, _, _ = _saved(tmp_path, c)
  other = _cfg(k=4)
  other.model.init_from = path
  with pytest.raises(UserError, match='does not fit this model.*k=8'):
    models.make_model(other.model, SHAPE)
  c.model.init_from = path
  with pytest.raises(UserError, match='input of shape'):
    models.make_model(c.model, (32, 32, 3))  # another image size
  c.model.init_from = str(tmp_path / 'nothing')
  with pytest.raises(UserError, match='is not a saved init'):
    models.make_model(c.model, SHAPE)
  with pytest.raises(UserError, match='already exists'):
    models.save_init(path, {'w': np.zeros(2)})


def test_main_with_a_bad_init_from_prints_one_line(tmp_path):
  out = subprocess.run(
      [sys.executable, '-m', 'dd_jax.main', '--config=configs/denoise.py:test',
       f'--config.model.init_from={tmp_path}/missing',
       f'--workdir={tmp_path}/run'], cwd=REPO, capture_output=True, text=True,
      env=dict(os.environ, PYTHONPATH=REPO), timeout=600)
  assert out.returncode == 2, out.stderr[-2000:]
  assert 'is not a saved init' in out.stderr
  assert 'Traceback' not in out.stderr
  assert not os.path.exists(tmp_path / 'run')
