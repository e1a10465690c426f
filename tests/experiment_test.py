"""Experiment helpers: tables, progress, engine == run.run, configs, launchers."""

import csv
import importlib
import importlib.util
import io
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from configs import common
from dd_jax.io import progress
from dd_jax.io import tables
from dd_jax.errors import UserError
from tests.conftest import REPO

EXPERIMENTS = ('table1', 'fig1_compression', 'fig4_fit_noise',
               'prop1_noise_fraction', 'appendix_b', 'fig6_activations',
               'sweep', 'conv_vs_1x1', 'upsampling', 'operators', 'stopping',
               'rate_distortion', 'spectral_bias', 'learned_init',
               'subtitles', 'search', 'real_noise', 'auto_width', 'beyond')


def test_write_table_csv_and_markdown(tmp_path):
  rows = [{'image': 'a', 'PSNR': 30.123, 'SSIM': 0.91234},
          {'image': 'b', 'PSNR': 28.0, 'extra': 'x'}]
  rows.append(tables.mean_row(rows, 'image', 'mean', ['PSNR', 'SSIM']))
  md = tables.write_table(rows, str(tmp_path), 't', title='T')
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
  bar = progress.Progress(200, 'x', stream=out)
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


@pytest.mark.parametrize('name', EXPERIMENTS)
@pytest.mark.parametrize('preset', ['full', 'cpu', 'test'])
def test_experiment_configs_build(name, preset):
  mod = importlib.import_module(f'experiments.{name}.config')
  c = mod.get_config(preset)
  assert c.to_json()
  assert c.output.overwrite is False  # The refusal's advice must work.
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
  with pytest.raises(UserError, match='does not fit the field'):
    sweep.apply_overrides(base, {'model.k': 'abc'})


def test_sweep_overrides_parse_lists_json_and_literals():
  from experiments.sweep import run as sweep
  want = [{'model.k': 48}, {'model.upsample_first': True}]
  assert sweep.parse_overrides(want) == want
  assert sweep.parse_overrides(
      '[{"model.k": 48}, {"model.upsample_first": true}]') == want
  assert sweep.parse_overrides(
      "[{'model.k': 48}, {'model.upsample_first': True}]") == want
  assert sweep.parse_overrides({'model.k': 48}) == want[:1]
  for bad in ('[{"model.k": 48]', '[]', '[1, 2]', 'k=48'):
    with pytest.raises(UserError, match='overrides'):
      sweep.parse_overrides(bad)


def test_sweep_launcher_takes_a_list_and_checks_it_before_any_run(tmp_path):
  """The documented --config.overrides='[...]' is accepted, and a bad
  entry anywhere in it stops the sweep before the first run (no workdir)."""
  workdir = tmp_path / 'sweep'
  out = launch('experiments.sweep.run', 'experiments/sweep/config.py:test',
               str(workdir), '--config.overrides=[{"model.k": 48}, '
               '{"model.kk": 1}]')
  assert out.returncode == 2, out.stderr[-2000:]
  errors = [l for l in out.stderr.splitlines() if l.startswith('error:')]
  assert len(errors) == 1 and "unknown field 'kk'" in errors[0], out.stderr
  assert 'Traceback' not in out.stderr and not workdir.exists()


def test_sweep_resumes_at_the_run_level(tmp_path, capsys):
  """A rerun with output.resume=True keeps finished runs of the same config
  and reruns the rest; the table is rebuilt from all of them."""
  from experiments.sweep import config as sweep_config
  from experiments.sweep import run as sweep
  from dd_jax.io import workdir as workdir_lib
  c = sweep_config.get_config('test')
  c.base = _tiny('astronaut')
  c.overrides = [{}, {'model.k': 4}]
  wd = str(tmp_path / 'sweep')
  sweep.run(c, wd)
  first, second = (os.path.join(wd, sweep.folder(i, n)) for i, n in
                   enumerate(('base', 'model.k=4')))
  kept = os.path.getmtime(os.path.join(first, 'summary.json'))
  workdir_lib.finish(second, 'running')  # As if interrupted in run 2.
  os.remove(os.path.join(wd, 'sweep.csv'))
  with pytest.raises(UserError, match='already holds a run.*resume=True'):
    sweep.run(c, wd)
  c.output.resume = True
  capsys.readouterr()
  rows = sweep.run(c, wd)
  assert '1/2: base (finished earlier, kept)' in capsys.readouterr().out
  assert os.path.getmtime(os.path.join(first, 'summary.json')) == kept
  assert workdir_lib.is_finished(second) and workdir_lib.is_finished(wd)
  assert [r['override'] for r in rows] == ['base', 'model.k=4']
  with open(os.path.join(wd, 'sweep.csv')) as f:
    assert [r['override'] for r in csv.DictReader(f)] == ['base',
                                                          'model.k=4']


# Experiments whose test preset runs a baseline from an optional extra, and
# the override that drops it when the extra is not installed.
WITHOUT_EXTRA = {'table1': ('bm3d', '--config.baselines.dn=')}


def launch(module, config, workdir, *args):
  """Runs an experiment's launcher as a user would; returns the process."""
  env = dict(os.environ, PYTHONPATH=REPO)
  return subprocess.run(
      [sys.executable, '-m', module, f'--config={config}',
       f'--workdir={workdir}', *args], cwd=REPO, env=env, capture_output=True,
      text=True, timeout=900)


@pytest.mark.parametrize('name', EXPERIMENTS)
def test_experiment_runs_end_to_end_and_keeps_results(name, tmp_path):
  """Each experiment's `test` preset runs through its absl launcher and writes
  its outputs; a second run into the same workdir is refused and changes
  nothing the first run wrote (the launcher's one-line form of that refusal:
  test_launcher_user_errors_are_one_line_and_leave_no_run)."""
  extra = []
  if name in WITHOUT_EXTRA:
    module, override = WITHOUT_EXTRA[name]
    if importlib.util.find_spec(module) is None:
      extra = [override]
  workdir = str(tmp_path / name)
  config = f'experiments/{name}/config.py:test'
  first = launch(f'experiments.{name}.run', config, workdir, *extra)
  assert first.returncode == 0, first.stderr[-3000:]
  written = {f: os.path.getmtime(os.path.join(workdir, f))
             for f in os.listdir(workdir)}
  assert 'config.json' in written and len(written) > 1, written
  run = importlib.import_module(f'experiments.{name}.run').run
  c = importlib.import_module(f'experiments.{name}.config').get_config('test')
  with pytest.raises(UserError, match='already holds a run'):
    run(c, workdir)  # In-process: the refusal comes before any work.
  assert {f: os.path.getmtime(os.path.join(workdir, f))
          for f in os.listdir(workdir)} == written


def test_spectral_bias_probe_splits_the_energies_and_products():
  """The experiment's probe rows sum over the bands to ||G||^2,
  ||G - x||^2, <G - x, y - x> and <G, x> (float64 numpy); first_step and
  the model list."""
  from experiments.spectral_bias import config as sb_config
  from experiments.spectral_bias import run as sb
  c = sb_config.get_config('test')
  _, bands, counts = sb.make_bands(c, (32, 32))
  g, x, y = np.random.default_rng(0).random((3, 32, 32, 3))
  rows = np.asarray(sb.make_probe(bands, len(counts))(
      g.astype(np.float32), y.astype(np.float32), x.astype(np.float32)))
  want = [np.sum(g * g), np.sum((g - x) ** 2), np.sum((g - x) * (y - x)),
          np.sum(g * x)]
  np.testing.assert_allclose(rows.sum(axis=1), want, rtol=1e-4)
  assert rows.shape == (4, int(c.spectrum.bands)) and counts[0] == 1
  assert sb.first_step([2, 4, 6], [0.5, 0.95, 0.8], 0.9) == 4
  assert sb.first_step([2, 4, 6], [0.5, 0.6, 0.8], 0.9) is None
  assert sb.fit_names(c) == ['dd', 'dd3x3', 'dip']
  c.fit_models = 'dip,nope'
  with pytest.raises(UserError, match="unknown model.*'nope'"):
    sb.fit_names(c)
  c.spectrum.bands = 40
  with pytest.raises(UserError, match='hold no frequency'):
    sb.make_bands(c, (32, 32))


def test_subtitles_scores_and_settings():
  """The mask scores against a known pair of masks; the composite pastes
  the observed pixels back; bad losses and report steps are user errors."""
  from experiments.subtitles import config as st_config
  from experiments.subtitles import run as st
  text = np.zeros((4, 4), bool)
  text[1:3, 1:3] = True                     # 4 true text pixels
  observed = np.ones((4, 4), bool)
  observed[1:3, 1:4] = False                # 6 masked, 4 of them text
  got = st.mask_scores(observed, text)
  assert got['iou'] == pytest.approx(4 / 6)
  assert got['precision'] == pytest.approx(4 / 6) and got['recall'] == 1.0
  assert got['masked'] == pytest.approx(6 / 16)
  x = np.full((16, 16, 3), 0.5, np.float32)
  out = np.zeros_like(x)
  mask16 = np.ones((16, 16), bool)
  mask16[:4] = False
  s = st.scores(out, x, np.zeros((16, 16), bool) | ~mask16, x * mask16[
      ..., None], mask16)
  assert s['psnr'] == pytest.approx(10 * np.log10(1 / 0.25), abs=1e-4)
  assert s['psnr_text'] == pytest.approx(s['psnr'], abs=1e-4)
  assert s['psnr_composite'] == pytest.approx(10 * np.log10(1 / (0.25 / 4)),
                                              abs=1e-4)
  c = st_config.get_config('test')
  assert st.loss_names(c) == ['mse', 'ms-ssim-l1']
  assert st.report_steps(c) == [2, 4]
  c.losses = 'mse,nope'
  with pytest.raises(UserError, match="Unknown fit.loss 'nope'"):
    st.loss_names(c)
  c.report_steps = (3,)
  with pytest.raises(UserError, match='report_steps: 3 is not a logged'):
    st.report_steps(c)


def test_operators_only_selects_cases():
  from experiments.operators import run as operators_run
  cases = operators_run.CASES
  assert operators_run.select_cases('') == list(cases)
  assert operators_run.select_cases('0, 3') == [cases[0], cases[3]]
  for bad in ('11', 'x', '-1'):
    with pytest.raises(UserError, match='Unknown case'):
      operators_run.select_cases(bad)


def _stopping_rows(image):
  rule = (20.0, 30)
  return [dict(image=image, sigma=25, noisy_psnr=20.0, best_psnr=21.0,
               best_step=30, budget=rule, budget_best_iterate=rule,
               discrepancy_known=(19.0, -1), discrepancy_mad=rule,
               validation=rule)]


def test_stopping_merge_combines_runs(tmp_path):
  """config.merge takes results.json files or their workdirs; no fitting."""
  from experiments.stopping import config as stopping_config
  from experiments.stopping import run as stopping_run
  for name in ('a', 'b'):
    os.makedirs(tmp_path / name)
    with open(tmp_path / name / 'results.json', 'w') as f:
      json.dump({'rows': _stopping_rows(name)}, f)
  c = stopping_config.get_config('test')
  c.merge = f'{tmp_path / "a"},{tmp_path / "b" / "results.json"}'
  stopping_run.run(c, str(tmp_path / 'merged'))
  with open(tmp_path / 'merged' / 'results.json') as f:
    out = json.load(f)
  assert [r['image'] for r in out['rows']] == ['a', 'b']
  assert '| mean dB lost | | | | 1.00 | 1.00 | 2.00 | 1.00 | 1.00 |' in (
      out['table'])
  assert (tmp_path / 'merged' / 'results.md').read_text().strip() == (
      out['table'])
  c.merge = str(tmp_path / 'nope.json')
  with pytest.raises(UserError, match='not found'):
    stopping_run.run(c, str(tmp_path / 'merged2'))


def test_stopping_sigmas_parse():
  from experiments.stopping import run as stopping_run
  assert stopping_run.parse_sigmas('15,25,50') == (15, 25, 50)
  assert stopping_run.parse_sigmas('12.5') == (12.5,)
  for bad in ('', 'x', '0', '-5'):
    with pytest.raises(UserError, match='sigmas='):
      stopping_run.parse_sigmas(bad)


def _rd_write(workdir, cfg, extra=()):
  """A small results.jsonl in the form experiments.rate_distortion.run writes:
  baselines and one k for 'astronaut', both finished."""
  recs = [dict(method='meta', preset='test', cfg=cfg)]
  for method, shift in (('jpeg', -1.0), ('jpeg2000', 0.0), ('webp', 0.5)):
    recs += [dict(image='astronaut', method=method, knob=q, bpp=bpp,
                  psnr=25 + shift + 3 * np.log2(bpp), ssim=0.5 + bpp / 10)
             for q, bpp in enumerate((0.25, 0.5, 1.0, 2.0))]
  for method, shift in (('dd_uniform', -4.0), ('dd_sensitivity', -3.0)):
    recs += [dict(image='astronaut', method=method, k=4, knob=b, bpp=bpp,
                  psnr=25 + shift + 3 * np.log2(bpp), ssim=0.4)
             for b, bpp in ((3, 0.3), (4, 0.6), (6, 1.2))]
  recs.append(dict(image='astronaut', method='dd_float', k=4, params=100,
                   fit_s=1.0, psnr=22.0, wavelet_same_n_psnr=23.0))
  recs += [dict(method='done', image='astronaut', item=i)
           for i in ('baselines', 'dd k=4')]
  recs += list(extra) + [dict(method='meta', preset='test', cfg=cfg,
                              seconds=5.0)]
  os.makedirs(workdir, exist_ok=True)
  with open(os.path.join(workdir, 'results.jsonl'), 'w') as f:
    f.write(''.join(json.dumps(r) + '\n' for r in recs))
  return recs


def test_rate_distortion_summarize_only_rerenders_results(tmp_path):
  """summarize_only re-renders summary.md and the plot from results.jsonl,
  fits nothing and leaves config.json alone; without results it refuses."""
  from experiments.rate_distortion import config as rd_config
  from experiments.rate_distortion import run as rd
  c = rd_config.get_config('test')
  c.summarize_only = True
  wd = str(tmp_path / 'rd')
  _rd_write(wd, rd.settings(c))
  rd.run(c, wd)
  assert sorted(os.listdir(wd)) == ['rd_astronaut.png', 'results.jsonl',
                                    'summary.md']
  text = open(os.path.join(wd, 'summary.md')).read()
  assert '| astronaut | 4 | 100 | 22.00 | 23.00 |' in text
  assert 'total time 5 s' in text
  with pytest.raises(UserError, match='No results.jsonl'):
    rd.run(c, str(tmp_path / 'empty'))


def test_rate_distortion_resume_skips_finished_items(tmp_path):
  """resume=True continues a held workdir: finished items are kept and not
  redone, records of an unfinished item are dropped; other settings refused."""
  from experiments.rate_distortion import config as rd_config
  from experiments.rate_distortion import run as rd
  c = rd_config.get_config('test')
  wd = str(tmp_path / 'rd')
  partial = dict(image='astronaut', method='dd_float', k=8, params=1,
                 fit_s=1.0, psnr=1.0, wavelet_same_n_psnr=1.0)
  recs = _rd_write(wd, rd.settings(c), extra=[partial])
  with pytest.raises(UserError, match='already holds a run'):
    rd.run(c, wd)
  c.resume = True
  rd.run(c, wd)  # Everything is done: no image is even loaded.
  back = rd.read_results(os.path.join(wd, 'results.jsonl'))
  points = [r for r in back if r['method'] != 'meta']
  assert points == [r for r in recs if r['method'] != 'meta' and r != partial]
  assert [r.get('resumed') for r in back if 'jax' in r] == [True]
  assert json.load(open(os.path.join(wd, 'config.json')))['resume']
  assert os.path.isfile(os.path.join(wd, 'summary.md'))
  c.fit.steps += 1
  with pytest.raises(UserError, match='Cannot resume'):
    rd.run(c, wd)


def test_rate_distortion_config_runs():
  """Each README run is a (preset, size) pair with its published settings;
  other pairs are refused."""
  from experiments.rate_distortion import config as rd_config
  c = rd_config.get_config('cpu,size=256')
  assert (c.label, c.data.size, c.data.images, tuple(c.ks), c.fit.steps,
          tuple(c.bits), c.qat_steps) == ('cpu256', 256, 'astronaut',
                                          (16, 32), 800, (4, 5, 6, 8), 150)
  assert rd_config.get_config('cpu').label == 'cpu'
  assert rd_config.get_config().label == 'full'
  with pytest.raises(UserError, match='No rate-distortion run'):
    rd_config.get_config('full,size=256')


def test_upsampling_fig5_runs(tmp_path):
  """Fig. 5's own launcher: presets build; the test preset writes fig5.png
  and fig5.json, and a second run into the same workdir is refused."""
  from experiments.upsampling import fig5
  from experiments.upsampling import fig5_config
  for preset in ('full', 'cpu'):
    assert fig5_config.get_config(preset).n == 256
  c = fig5_config.get_config('test')
  workdir = str(tmp_path / 'fig5')
  results = fig5.run(c, workdir)
  assert set(results) == {'linear', 'convex'}
  for name in ('fig5.png', 'fig5.json', 'config.json'):
    assert os.path.isfile(os.path.join(workdir, name)), name
  with open(os.path.join(workdir, 'fig5.json')) as f:
    assert len(json.load(f)['signal']) == c.n
  with pytest.raises(UserError, match='already holds a run'):
    fig5.run(fig5_config.get_config('test'), workdir)


@pytest.mark.parametrize('arg,message', [
    ('--config.data.images=/nonexistent/x.png', 'not found'),
    ('--config.model.kk=3', "unknown config field 'kk'"),
    ('--config=experiments/fig6_activations/config.py:bogus',
     "Unknown config preset 'bogus'"),
])
def test_launcher_user_errors_are_one_line_and_leave_no_run(arg, message,
                                                            tmp_path):
  """A user error prints one `error:` line (exit 2, no traceback) and leaves
  no half-made run behind, so the corrected command can use the workdir."""
  workdir = str(tmp_path / 'wd')
  env = dict(os.environ, PYTHONPATH=REPO)
  out = subprocess.run(
      [sys.executable, '-m', 'experiments.fig6_activations.run',
       '--config=experiments/fig6_activations/config.py:test', arg,
       f'--workdir={workdir}'], cwd=REPO, env=env, capture_output=True,
      text=True, timeout=600)
  assert out.returncode == 2, out.stderr[-2000:]
  assert message in out.stderr and 'Traceback' not in out.stderr
  errors = [l for l in out.stderr.splitlines() if l.startswith('error:')]
  assert len(errors) == 1, out.stderr
  assert not os.path.exists(workdir)


def test_launcher_refuses_a_workdir_holding_a_run(tmp_path):
  """One line, exit 2, and the earlier run's files are left as they were."""
  workdir = tmp_path / 'wd'
  workdir.mkdir()
  (workdir / 'config.json').write_text('{"mine": 1}')
  out = launch('experiments.fig6_activations.run',
               'experiments/fig6_activations/config.py:test', str(workdir))
  assert out.returncode == 2, out.stderr[-2000:]
  assert 'already holds a run' in out.stderr and 'Traceback' not in out.stderr
  assert sorted(os.listdir(workdir)) == ['config.json']
  assert (workdir / 'config.json').read_text() == '{"mine": 1}'
