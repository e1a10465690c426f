"""experiments/search: sampling, spec checks, ranking, resume, best_config.py.

The launcher's own end to end run (test preset, refusal of a used workdir)
is tests/experiment_test.py's, with the other experiments.
"""

import csv
import json
import math
import os
import shutil
import subprocess
import sys
import zlib

import numpy as np
import pytest

from configs import common
from dd_jax.errors import UserError
from dd_jax.io import workdir as workdir_lib
from experiments.search import config as search_config
from experiments.search import run as search
from tests.conftest import REPO

SPACE = {
    'model.k': {'choice': [4, 8, 16]},
    'model.depth': {'uniform': [2, 5], 'int': True},
    'fit.jitter_std': {'log_uniform': [1e-10, 1e-1]},
    'optim.lr': {'uniform': [0.001, 0.02]},
    'fit.steps': {'log_uniform': [1, 100], 'int': True},
}


def test_sampling_is_reproducible_per_trial_and_per_field():
  space = search.parse_space(SPACE)
  a = search.sample(space, 30, seed=3)
  assert a == search.sample(space, 30, seed=3)
  assert a[:10] == search.sample(space, 10, seed=3)  # More trials keep these.
  assert a != search.sample(space, 30, seed=4)
  fewer = {k: v for k, v in space.items() if k != 'optim.lr'}
  assert [{k: v for k, v in t.items() if k != 'optim.lr'} for t in a] == (
      search.sample(fewer, 30, seed=3))  # A field more leaves the others.
  # The documented stream: 10^U(log10 lo, log10 hi) from rng([seed, i, crc]).
  crc = zlib.crc32(b'fit.jitter_std')
  want = [10 ** np.random.default_rng([3, i, crc]).uniform(-10, -1)
          for i in range(30)]
  np.testing.assert_allclose([t['fit.jitter_std'] for t in a], want,
                             rtol=1e-12)


def test_sampled_values_lie_in_their_ranges_with_their_types():
  trials = search.sample(search.parse_space(SPACE), 2000, seed=0)
  k = [t['model.k'] for t in trials]
  assert set(k) == {4, 8, 16} and all(type(v) is int for v in k)
  depth = [t['model.depth'] for t in trials]
  assert set(depth) == {2, 3, 4, 5}  # Both ends included.
  assert all(type(v) is int for v in depth)
  assert all(type(t['fit.jitter_std']) is float for t in trials)
  jitter = np.array([t['fit.jitter_std'] for t in trials])
  assert jitter.min() >= 1e-10 and jitter.max() < 1e-1
  e = np.log10(jitter)  # Uniform exponents: each decade ~ 1/9 of draws.
  counts = np.histogram(e, bins=9, range=(-10, -1))[0]
  assert counts.min() > 2000 / 9 * 0.7 and counts.max() < 2000 / 9 * 1.3
  lr = np.array([t['optim.lr'] for t in trials])
  assert lr.min() >= 0.001 and lr.max() < 0.02
  assert abs(np.mean(lr) - 0.0105) < 0.001
  assert all(type(t['fit.steps']) is int for t in trials)
  steps = np.array([t['fit.steps'] for t in trials])
  assert steps.min() == 1 and steps.max() <= 100
  # Log-uniform whole numbers over [1, 101): P(n < 10) = log(10) / log(101).
  assert np.mean(steps < 10) == pytest.approx(math.log(10) / math.log(101),
                                              abs=0.04)


@pytest.mark.parametrize('space,message', [
    ({'model.k': {'normal': [0, 1]}}, 'is not a spec'),
    ({'model.k': {'choice': [1], 'uniform': [0, 1]}}, 'is not a spec'),
    ({'model.k': [16, 32]}, 'is not a spec'),
    ({'model.k': {'choice': []}}, 'non-empty list'),
    ({'model.k': {'choice': [4], 'int': True}}, "'int' is for"),
    ({'model.k': {'uniform': [4, 8], 'step': 2}}, 'unknown spec key'),
    ({'optim.lr': {'uniform': [0.1, 0.01]}}, 'needs lo < hi'),
    ({'optim.lr': {'uniform': [0.1, 0.1]}}, 'needs lo < hi'),
    ({'optim.lr': {'uniform': [0.1]}}, r'must be \[lo, hi\]'),
    ({'optim.lr': {'uniform': [0, float('inf')]}}, 'two finite numbers'),
    ({'fit.jitter_std': {'log_uniform': [0, 0.1]}}, 'needs 0 < lo'),
    ({'fit.jitter_std': {'log_uniform': [-1, 0.1]}}, 'needs 0 < lo'),
    ({'model.k': {'uniform': [4.5, 8], 'int': True}}, 'whole bounds'),
    ({'model.kk': {'choice': [4]}}, "unknown field 'kk'"),
    ({'nope.k': {'choice': [4]}}, "no config section 'nope'"),
    ({'model.k': {'uniform': [4, 8]}}, 'does not fit the field'),
    ({}, 'non-empty'),
    ('{"model.k": {"choice": [4]', 'neither JSON nor a Python dict'),
])
def test_a_bad_space_is_one_user_error(space, message):
  c = search_config.get_config('test')
  c.space = space
  with pytest.raises(UserError, match=message) as e:
    search.plan(c)
  assert '\n' not in str(e.value)
  assert str(e.value).startswith(('Search space field', 'config.space'))


def test_space_text_and_search_settings():
  c = search_config.get_config('test')
  c.space = ('{"model.k": {"choice": [4, 8]}, '
             '"fit.steps": {"uniform": [2, 4], "int": true}}')
  values, cfgs = search.plan(c)
  assert [v['model.k'] for v in values] == [cfg.model.k for cfg in cfgs]
  assert all(2 <= cfg.fit.steps <= 4 for cfg in cfgs)
  assert all(cfg.output.overwrite for cfg in cfgs)
  assert c.base.output.overwrite is False  # The base is not changed.
  c.space = "{'model.k': {'choice': [4, 8]}}"  # A Python literal.
  assert search.plan(c)[0][0]['model.k'] in (4, 8)
  for field, value, message in (('trials', 0, 'config.trials'),
                                ('seed', -1, 'config.seed'),
                                ('metric', 'PSNR', 'Unknown config.metric')):
    c = search_config.get_config('test')
    c[field] = value
    with pytest.raises(UserError, match=message):
      search.plan(c)


def test_a_bad_space_on_the_command_line_stops_before_any_run(tmp_path):
  """--config.space takes JSON; a bad field in it is one error line and no
  workdir."""
  workdir = tmp_path / 'search'
  env = dict(os.environ, PYTHONPATH=REPO)
  out = subprocess.run(
      [sys.executable, '-m', 'experiments.search.run',
       '--config=experiments/search/config.py:test', f'--workdir={workdir}',
       '--config.space={"model.k": {"choice": [4]}, "model.kk": '
       '{"uniform": [1, 2]}}'], cwd=REPO, env=env, capture_output=True,
      text=True, timeout=600)
  assert out.returncode == 2, out.stderr[-2000:]
  errors = [l for l in out.stderr.splitlines() if l.startswith('error:')]
  assert len(errors) == 1 and "unknown field 'kk'" in errors[0], out.stderr
  assert 'Traceback' not in out.stderr and not workdir.exists()


def test_rank_puts_the_best_first_and_diverged_trials_last():
  rows = [{'trial': i, 'mean PSNR': v} for i, v in
          enumerate([20.0, float('nan'), 25.0, 20.0])]
  ranked = search.rank(rows, 'mean PSNR')
  assert [r['trial'] for r in ranked] == [2, 0, 3, 1]
  assert [r['rank'] for r in ranked] == [1, 2, 3, 4]


def _tiny():
  c = search_config.get_config('test')
  b = common.base_config('test')
  b.data.images, b.data.size, b.data.channels = 'astronaut', 16, 'rgb'
  b.model.depth, b.model.k = 2, 4
  b.fit.steps, b.fit.log_every = 4, 2
  c.base = b
  c.space = {'model.k': {'choice': [4, 8]},
             'model.activation': {'choice': ['relu', 'leaky_relu']},
             'fit.jitter_std': {'log_uniform': [1e-6, 1e-2]}}
  c.trials = 2
  return c


def test_every_trial_is_validated_before_the_first_runs(tmp_path,
                                                       monkeypatch):
  """A bad value drawn for a later trial stops the search before any run;
  nothing is written."""
  c = _tiny()
  c.space = {'model.activation': {'choice': ['relu', 'nope']}}
  c.trials = 6
  draws = lambda seed: [t['model.activation'] for t in search.sample(
      search.parse_space(c.space), c.trials, seed)]
  c.seed = next(s for s in range(100)
                if draws(s)[0] == 'relu' and 'nope' in draws(s))
  ran = []
  monkeypatch.setattr(search.sweep.run_lib, 'run',
                      lambda *a: ran.append(a))
  with pytest.raises(UserError, match="Unknown model.activation 'nope'"):
    search.run(c, str(tmp_path / 'search'))
  assert not ran and not (tmp_path / 'search').exists()


def test_trials_json_is_written_first_and_the_table_is_ranked(tmp_path,
                                                             monkeypatch):
  """With the fits replaced by made-up summaries: trials.json is there
  before the first run, search.csv is sorted by the metric (higher first)
  and best_config.py holds the best trial's values."""
  c = _tiny()
  c.trials = 4
  c.one_call = False  # one run.run per trial (faked below)
  wd = str(tmp_path / 'search')
  psnr = iter([21.0, 24.0, float('nan'), 22.0])

  def fake_run(cfg, sub):
    with open(os.path.join(wd, 'trials.json')) as f:
      trials = json.load(f)['trials']
    assert len(trials) == 4
    os.makedirs(sub)
    return {'images': {'astronaut': {'psnr_restored': next(psnr),
                                     'ssim_restored': 0.5}},
            'groups': [{'num_params': 10}], 'seconds': 1.0}

  monkeypatch.setattr(search.sweep.run_lib, 'run', fake_run)
  values = search.sample(search.parse_space(c.space), 4, c.seed)
  rows = search.run(c, wd)
  assert [r['trial'] for r in rows] == [1, 3, 0, 2]
  with open(os.path.join(wd, 'search.csv')) as f:
    back = list(csv.DictReader(f))
  assert [int(r['trial']) for r in back] == [1, 3, 0, 2]
  assert back[0]['model.activation'] == values[1]['model.activation']
  assert float(back[0]['fit.jitter_std']) == pytest.approx(
      values[1]['fit.jitter_std'], rel=1e-2)
  with open(os.path.join(wd, 'trials.json')) as f:
    assert [t['values'] for t in json.load(f)['trials']] == values
  text = open(os.path.join(wd, 'best_config.py')).read()
  assert 'trial_001 of\n4 trials, mean PSNR 24' in text
  assert workdir_lib.is_finished(wd)


@pytest.fixture(scope='module')
def finished(tmp_path_factory):
  """A finished tiny search (two real trials) and its config."""
  c = _tiny()
  wd = str(tmp_path_factory.mktemp('search') / 'search')
  rows = search.run(c, wd)
  return c, wd, rows


def test_best_config_launches_through_main(finished, tmp_path):
  """`python -m dd_jax.main --config=<workdir>/best_config.py` runs the best
  trial's config again: the same settings, the same PSNR."""
  c, wd, rows = finished
  best = rows[0]
  assert best['mean PSNR'] >= rows[1]['mean PSNR']
  out_dir = str(tmp_path / 'best')
  env = dict(os.environ, PYTHONPATH=REPO)
  out = subprocess.run(
      [sys.executable, '-m', 'dd_jax.main',
       f'--config={os.path.join(wd, "best_config.py")}',
       f'--workdir={out_dir}'], cwd=REPO, env=env, capture_output=True,
      text=True, timeout=600)
  assert out.returncode == 0, out.stderr[-3000:]
  trial_dir = os.path.join(wd, search.folder(best['trial']))
  got, want = ({k: v for k, v in json.load(open(os.path.join(
      d, 'config.json'))).items() if k != 'output'}
               for d in (out_dir, trial_dir))
  assert got == want
  summary = json.load(open(os.path.join(out_dir, 'summary.json')))
  assert summary['images']['astronaut']['psnr_restored'] == pytest.approx(
      best['mean PSNR'], abs=1e-3)
  mod = {}
  exec(open(os.path.join(wd, 'best_config.py')).read(), mod)
  assert mod['get_config']().output.overwrite is False
  with pytest.raises(ValueError, match='takes no argument'):
    mod['get_config']('cpu')


def test_resume_keeps_finished_trials_and_runs_the_rest(finished, tmp_path,
                                                       capsys):
  c, done, rows = finished
  wd = str(tmp_path / 'search')
  shutil.copytree(done, wd)
  first, second = (os.path.join(wd, search.folder(i)) for i in (0, 1))
  kept = os.path.getmtime(os.path.join(first, 'summary.json'))
  workdir_lib.finish(second, 'running')  # As if interrupted in trial 2.
  os.remove(os.path.join(wd, 'search.csv'))
  c = _tiny()  # The same config again.
  with pytest.raises(UserError, match='already holds a run.*resume=True'):
    search.run(c, wd)
  c.output.resume = True
  capsys.readouterr()
  again = search.run(c, wd)
  out = capsys.readouterr().out
  assert '1/2 trial_000: ' in out and '(finished earlier, kept)' in out
  assert out.count('(finished earlier, kept)') == 1
  assert os.path.getmtime(os.path.join(first, 'summary.json')) == kept
  assert workdir_lib.is_finished(second) and workdir_lib.is_finished(wd)
  assert [r['trial'] for r in again] == [r['trial'] for r in rows]
  with open(os.path.join(wd, 'search.csv')) as f:
    assert len(list(csv.DictReader(f))) == 2
  c.seed = 1  # Other trials: not the search held there.
  with pytest.raises(UserError, match='Cannot resume'):
    search.run(c, wd)


def test_trials_differing_only_in_entry_fields_share_one_call(tmp_path,
                                                              monkeypatch):
  """one_call: trials equal but for seed / lr / jitter std / noise sigma go
  to run.run_variants together; the others alone."""
  c = _tiny()
  c.space = {'fit.jitter_std': {'log_uniform': [1e-6, 1e-2]},
             'model.k': {'choice': [4, 8]}}
  c.trials = 4
  values = search.sample(search.parse_space(c.space), 4, c.seed)
  calls = []

  def fake_variants(cfgs, subs):
    calls.append([int(cfg.model.k) for cfg in cfgs])
    for sub in subs:
      os.makedirs(sub)
    return [{'images': {'astronaut': {'psnr_restored': 20.0 + cfg.model.k,
                                      'ssim_restored': 0.5}},
             'groups': [{'num_params': 10}], 'seconds': 1.0} for cfg in cfgs]

  monkeypatch.setattr(search.sweep.run_lib, 'run_variants', fake_variants)
  search.run(c, str(tmp_path / 'search'))
  ks = [v['model.k'] for v in values]
  want = [[k] * ks.count(k) for k in dict.fromkeys(ks)]
  assert calls == want
