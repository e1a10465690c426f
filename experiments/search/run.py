"""Random-search launcher: `trials` sampled configs, one `dd_jax.run.run`
each, one ranked table and the best trial as a config file.

  python -m experiments.search.run --config=experiments/search/config.py:cpu \
    --workdir=runs/search_cpu
  python -m dd_jax.main --config=runs/search_cpu/best_config.py \
    --workdir=runs/search_cpu_best

The space is checked, every trial sampled, applied to the base config and
validated (`dd_jax.run.validate`) before the first trial runs; the sampled
values go to trials.json first. Each trial writes its usual workdir
(<workdir>/trial_<i>/); after each one the search rewrites search.csv/.md
(the finished trials, best first by `metric`: sampled values, mean and
per-image PSNR, mean SSIM, parameters, seconds), best_config.py (the base
config with the best trial's values: `python -m dd_jax.main
--config=<workdir>/best_config.py`) and, at the end, search.png (the metric
against each sampled field). The runs, their resume and the table rows are
the sweep's (experiments/sweep/run.py): with --config.output.resume=True an
interrupted search keeps its finished trials and runs the others.
"""

import ast
import math
import os
import zlib

import ml_collections
import numpy as np

from dd_jax import experiment as ex
from dd_jax.errors import UserError
from dd_jax.io import tables
from dd_jax.io import workdir as workdir_lib
from dd_jax.io import writers
from experiments.sweep import run as sweep

KINDS = ('choice', 'uniform', 'log_uniform')
METRICS = ('mean PSNR', 'mean SSIM')  # Higher is better.
WHAT = 'Search space field'


# ------------------------------------------------------------------- space
def parse_space(value) -> dict:
  """config.space as {dotted.field: spec}, each spec checked (UserError):
  a dict, or its text as JSON or a Python literal."""
  value = sweep.parse_literal(value, 'config.space', 'dict',
                              '\'{"model.k": {"choice": [64, 128]}}\'')
  if isinstance(value, ml_collections.ConfigDict):
    value = value.to_dict()
  if not isinstance(value, dict) or not value:
    raise UserError('config.space must be a non-empty {"dotted.field": spec} '
                    f'dict, got {value!r}.')
  return {_field(k): check_spec(k, spec) for k, spec in value.items()}


def _field(key) -> str:
  if not isinstance(key, str) or not key:
    raise UserError(f'config.space: {key!r} is not a dotted config field.')
  return key


def check_spec(field: str, spec) -> dict:
  """The spec of `field`, checked: one of KINDS, plus 'int' for ranges."""
  if isinstance(spec, ml_collections.ConfigDict):
    spec = spec.to_dict()
  kinds = [k for k in KINDS if isinstance(spec, dict) and k in spec]
  if not isinstance(spec, dict) or len(kinds) != 1:
    raise UserError(
        f'{WHAT} {field!r}: {spec!r} is not a spec; give one of '
        "{'choice': [a, b, ...]}, {'uniform': [lo, hi]} or "
        "{'log_uniform': [lo, hi]} (ranges may add 'int': True).")
  kind = kinds[0]
  extra = sorted(set(spec) - {kind, 'int'})
  if extra:
    raise UserError(f'{WHAT} {field!r}: unknown spec key(s) {extra}; known: '
                    f"{[*KINDS, 'int']}.")
  is_int = spec.get('int', False)
  if not isinstance(is_int, bool):
    raise UserError(f"{WHAT} {field!r}: 'int' must be True or False, got "
                    f'{is_int!r}.')
  values = spec[kind]
  if kind == 'choice':
    if is_int:
      raise UserError(f"{WHAT} {field!r}: 'int' is for uniform and "
                      'log_uniform ranges; a choice draws its values as '
                      'given.')
    if not isinstance(values, (list, tuple)) or not values:
      raise UserError(f'{WHAT} {field!r}: choice must be a non-empty list, '
                      f'got {values!r}.')
    return {'choice': list(values)}
  if (not isinstance(values, (list, tuple)) or len(values) != 2 or not all(
      isinstance(v, (int, float)) and not isinstance(v, bool)
      and math.isfinite(v) for v in values)):
    raise UserError(f'{WHAT} {field!r}: {kind} must be [lo, hi], two finite '
                    f'numbers, got {values!r}.')
  lo, hi = values
  if lo >= hi:
    raise UserError(f'{WHAT} {field!r}: {kind} needs lo < hi, got '
                    f'[{lo}, {hi}].')
  if kind == 'log_uniform' and lo <= 0:
    raise UserError(f'{WHAT} {field!r}: log_uniform needs 0 < lo, got '
                    f'[{lo}, {hi}].')
  if is_int and not all(float(v).is_integer() for v in values):
    raise UserError(f'{WHAT} {field!r}: an int range needs whole bounds, '
                    f'got [{lo}, {hi}].')
  return {kind: [lo, hi], 'int': is_int}


# ---------------------------------------------------------------- sampling
def sample(space: dict, trials: int, seed: int) -> list[dict]:
  """`trials` dicts {field: value} drawn from the checked `space`.

  Trial i's value of a field comes from its own numpy stream,
  default_rng([seed, i, crc32(field)]): more trials keep the earlier ones,
  and adding or removing a field keeps the other fields' values.
  """
  return [{field: draw(np.random.default_rng(
      [seed, i, zlib.crc32(field.encode())]), spec)
           for field, spec in space.items()} for i in range(trials)]


def draw(rng: np.random.Generator, spec: dict):
  """One value of a checked spec, as a plain Python value."""
  if 'choice' in spec:
    return spec['choice'][int(rng.integers(len(spec['choice'])))]
  kind = 'uniform' if 'uniform' in spec else 'log_uniform'
  lo, hi = spec[kind]
  if spec.get('int'):
    lo, hi = int(lo), int(hi)
    if kind == 'uniform':
      return int(rng.integers(lo, hi, endpoint=True))
    # Log-uniform over [lo, hi + 1), rounded down: n has mass ~ log(1 + 1/n).
    v = math.floor(10 ** rng.uniform(math.log10(lo), math.log10(hi + 1)))
    return min(max(int(v), lo), hi)
  if kind == 'uniform':
    return float(rng.uniform(lo, hi))
  return float(10 ** rng.uniform(math.log10(lo), math.log10(hi)))


# ------------------------------------------------------------------ search
def settings(config) -> tuple[dict, int, int, str]:
  """(space, trials, seed, metric) of the search config, checked."""
  space = parse_space(config.space)
  trials, seed = config.trials, config.seed
  for name, value, least in (('trials', trials, 1), ('seed', seed, 0)):
    if isinstance(value, bool) or not isinstance(value, int) or value < least:
      raise UserError(f'config.{name} must be a whole number >= {least}, '
                      f'got {value!r}.')
  if config.metric not in METRICS:
    raise UserError(f'Unknown config.metric {config.metric!r}; choose one of '
                    f'{list(METRICS)} (higher is better).')
  return space, trials, seed, config.metric


def plan(config) -> tuple[list[dict], list[ml_collections.ConfigDict]]:
  """The sampled values of each trial and its run config (not yet run)."""
  space, trials, seed, _ = settings(config)
  values = sample(space, trials, seed)
  check_literal(config.base.to_dict(), 'config.base')
  cfgs = []
  for ov in values:
    check_literal(ov, 'config.space')
    cfg = sweep.apply_overrides(config.base, ov, what=WHAT)
    cfg.output.overwrite = True  # Its own sub-folder, checked by the search.
    cfgs.append(cfg)
  return values, cfgs


def folder(i: int) -> str:
  return f'trial_{i:03d}'


def run(config, workdir):
  values, cfgs = plan(config)
  metric = config.metric
  resume = bool(config.output.get('resume', False))
  ex.prepare(workdir, config, runs=cfgs, resume=resume,
             other_way='pass --config.output.resume=True to continue it '
             '(finished trials are kept)')
  writers.write_json(os.path.join(workdir, 'trials.json'), {
      'seed': config.seed, 'metric': metric,
      'trials': [{'trial': i, 'folder': folder(i), 'values': v}
                 for i, v in enumerate(values)]})
  rows = []

  def done(summaries):  # After each call: the ranking so far.
    rows[:] = [row(i, ov, s) for i, (ov, s) in enumerate(zip(values,
                                                             summaries))
               if s is not None]
    ranked = rank(rows, metric)
    tables.write_table(ranked, workdir, 'search', title=(
        f'Random search: {len(rows)} of {len(cfgs)} trials, best '
        f'{metric} first'))
    best = ranked[0]['trial']
    write_best_config(os.path.join(workdir, 'best_config.py'), config.base,
                      values[best], best, len(cfgs), metric,
                      ranked[0][metric])

  sweep.run_all(
      cfgs, [os.path.join(workdir, folder(i)) for i in range(len(cfgs))],
      [f'[search] {i + 1}/{len(cfgs)} {folder(i)}: {sweep.label(ov)}'
       for i, ov in enumerate(values)], resume=resume,
      one_call=bool(config.get('one_call', True)), on_done=done)
  _plot(os.path.join(workdir, 'search.png'), rows, parse_space(config.space),
        metric)
  workdir_lib.finish(workdir)
  return rank(rows, metric)


def row(i: int, values: dict, summary: dict) -> dict:
  """Trial i's table row: its sampled values, then the sweep's columns."""
  r = sweep.row(sweep.label(values), summary)
  del r['override']
  return {'trial': i, **{k: _show(v) for k, v in values.items()}, **r}


def _show(v):
  """A sampled value for the table (a float to 3 significant digits, so
  that 1.75e-07 does not print as 0.0000); trials.json keeps it exactly."""
  return f'{v:.3g}' if isinstance(v, float) else v


def rank(rows: list[dict], metric: str) -> list[dict]:
  """The rows best first by `metric` (NaN, a diverged trial, last; ties by
  trial number), each with its 'rank'."""
  def key(r):
    ok = np.isfinite(r[metric])
    return (not ok, -r[metric] if ok else 0.0, r['trial'])
  return [{'rank': n + 1, **r} for n, r in enumerate(sorted(rows, key=key))]


# ------------------------------------------------------------- best config
BEST_TEMPLATE = '''"""The best trial of a random search (experiments/search): {folder} of
{trials} trials, {metric} {value} (the table: search.md beside this file).

  python -m dd_jax.main --config={path} \\
    --workdir=runs/search_best

Run from the dd_jax repository root (it applies the values with the search's
own code). BASE is the search's base config as it ran; OVERRIDES the
trial's sampled values. get_config takes no argument; change fields on the
command line as usual (--config.fit.steps=2000).
"""

import ml_collections

from experiments.sweep import run as sweep

OVERRIDES = {overrides}

BASE = {base}


def get_config(arg=None):
  if arg:
    raise ValueError(f'best_config.py takes no argument, got {{arg!r}}; set '
                     'fields with --config.<field>=<value>.')
  return sweep.apply_overrides(ml_collections.ConfigDict(BASE), OVERRIDES,
                               what='best_config.py override')
'''


def write_best_config(path: str, base, overrides: dict, trial: int,
                      trials: int, metric: str, value: float):
  """best_config.py: `get_config()` returns `base` with `overrides` set."""
  base_dict = base.to_dict()
  text = BEST_TEMPLATE.format(
      folder=folder(trial), trials=trials, metric=metric,
      value=('(diverged)' if not np.isfinite(value) else f'{value:.4g}'),
      path=path, overrides=_literal(overrides), base=_literal(base_dict))
  writers.write_text(path, text)


def check_literal(value: dict, what: str):
  """Refuses (UserError) a dict that best_config.py could not hold: one
  that does not read back whole from its Python source (NaN, inf, ...)."""
  try:
    ok = ast.literal_eval(_literal(value)) == value
  except (ValueError, SyntaxError):
    ok = False
  if not ok:
    raise UserError(f'{what} holds a value that best_config.py cannot write '
                    f'as a Python literal (NaN, inf or an object): {value!r}.')


def _literal(value, indent: str = '') -> str:
  """`value` as Python source: a dict one key a line (nested ones
  indented), in its own order; other values as their repr."""
  if not isinstance(value, dict) or not value:
    return repr(value)
  inner = indent + '    '
  return '{\n' + ''.join(f'{inner}{k!r}: {_literal(v, inner)},\n'
                          for k, v in value.items()) + indent + '}'


# -------------------------------------------------------------------- plot
def _plot(path, rows, space, metric):
  plt = ex.pyplot()
  fields = list(space)
  fig, axes = plt.subplots(1, len(fields), figsize=(2.6 * len(fields), 2.8),
                           dpi=110, sharey=True, squeeze=False)
  y = [r[metric] for r in rows]
  for ax, field in zip(axes[0], fields):
    spec = space[field]
    x = [r[field] for r in rows]
    if 'choice' in spec:
      names = [str(v) for v in spec['choice']]
      x = [names.index(str(v)) for v in x]
      ax.set_xticks(range(len(names)), names, fontsize=7, rotation=30)
      ax.set_xlim(-0.5, len(names) - 0.5)
    else:
      x = [float(v) for v in x]
      if 'log_uniform' in spec:
        ax.set_xscale('log')
      lo, hi = spec.get('uniform') or spec['log_uniform']
      pad = (hi / lo) ** 0.05 if 'log_uniform' in spec else 0.05 * (hi - lo)
      ax.set_xlim(*((lo / pad, hi * pad) if 'log_uniform' in spec
                    else (lo - pad, hi + pad)))
    ax.scatter(x, y, s=14)
    ax.set_xlabel(field, fontsize=8)
    ax.grid(alpha=0.3)
  axes[0][0].set_ylabel(metric)
  ex.save_figure(fig, path)


if __name__ == '__main__':
  ex.launch(run, os.path.join(os.path.dirname(__file__), 'config.py') + ':cpu',
            'runs/search')
