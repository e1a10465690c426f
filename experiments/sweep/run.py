"""Sweep launcher: one `dd_jax.run.run` per override set, one table.

  python -m experiments.sweep.run --config=experiments/sweep/config.py:cpu \
    --workdir=runs/sweep_cpu

Each run writes its usual workdir (<workdir>/<index>_<name>/); the sweep
writes sweep.csv/.md (mean and per-image PSNR/SSIM, parameters, seconds per
override), rebuilt after every run from the finished ones, and sweep.png
(mean PSNR per override). Every override is applied and validated before the
first run. Runs whose configs differ only in seed, learning rate, input
jitter std or noise sigma (engine.ENTRY_FIELDS) are fitted as ONE compiled
call (run.run_variants; --config.one_call=False: one call per run). With
--config.output.resume=True an interrupted sweep continues:
a run whose folder holds a finished run of the same config is kept, the
others are (re)run.
"""

import ast
import json
import os

import ml_collections
import numpy as np

from dd_jax import experiment as ex
from dd_jax import run as run_lib
from dd_jax.errors import UserError
from dd_jax.fitting import engine
from dd_jax.io import tables
from dd_jax.io import workdir as workdir_lib


def parse_literal(value, field: str, kind: str, example: str):
  """`value`, or its text read as JSON or a Python literal (a UserError
  naming `field`, the `kind` expected and an `example` if neither)."""
  if not isinstance(value, str):
    return value
  try:
    return json.loads(value)
  except ValueError:
    try:
      return ast.literal_eval(value)
    except (ValueError, SyntaxError):
      raise UserError(f'{field} {value!r} is neither JSON nor a Python '
                      f'{kind}; give e.g. {example}.') from None


def parse_overrides(value) -> list[dict]:
  """config.overrides as a list of {dotted.key: value} dicts: a list (or
  one dict), or its text as JSON or a Python literal."""
  value = parse_literal(value, 'config.overrides', 'list',
                        '\'[{"model.k": 48}, {"model.depth": 4}]\'')
  if isinstance(value, (dict, ml_collections.ConfigDict)):
    value = [value]
  if not isinstance(value, (list, tuple)) or not value:
    raise UserError(f'config.overrides must be a non-empty list of '
                    f'{{"dotted.key": value}} dicts, got {value!r}.')
  out = []
  for ov in value:
    if isinstance(ov, ml_collections.ConfigDict):
      ov = ov.to_dict()
    if not isinstance(ov, dict) or not all(isinstance(k, str) for k in ov):
      raise UserError(f'config.overrides: {ov!r} is not a '
                      '{"dotted.key": value} dict.')
    out.append(dict(ov))
  return out


def apply_overrides(base, overrides: dict, *, what: str = 'Sweep override'
                    ) -> ml_collections.ConfigDict:
  """A copy of `base` with {'a.b': value} set; unknown keys are errors
  (UserError, starting with `what` and the key)."""
  c = ml_collections.ConfigDict(base.to_dict())
  for key, value in overrides.items():
    *parents, leaf = key.split('.')
    node = c
    for p in parents:
      if p not in node or not isinstance(node[p], ml_collections.ConfigDict):
        raise UserError(f'{what} {key!r}: no config section {p!r}.')
      node = node[p]
    if leaf not in node:
      raise UserError(f'{what} {key!r}: unknown field {leaf!r}; '
                      f'known: {sorted(node.keys())}.')
    try:
      node[leaf] = value
    except (TypeError, ValueError) as e:
      raise UserError(f'{what} {key!r}: {value!r} does not fit the '
                      f'field ({str(e).splitlines()[0]}).') from None
  return c


def label(overrides: dict) -> str:
  return ','.join(f'{k}={v}' for k, v in overrides.items()) or 'base'


def folder(i: int, name: str) -> str:
  return f'{i:02d}_' + ''.join(ch if ch.isalnum() or ch in '.=-' else '_'
                               for ch in name)


def plan(config) -> list[tuple[str, ml_collections.ConfigDict]]:
  """(label, run config) per override, every one applied (not yet run)."""
  runs = []
  for ov in parse_overrides(config.overrides):
    cfg = apply_overrides(config.base, ov)
    cfg.output.overwrite = True  # Its own sub-folder, checked by the sweep.
    runs.append((label(ov), cfg))
  return runs


def run(config, workdir):
  runs = plan(config)
  resume = bool(config.output.get('resume', False))
  ex.prepare(workdir, config, runs=[cfg for _, cfg in runs], resume=resume,
             other_way='pass --config.output.resume=True to continue it '
             '(finished runs are kept)')
  rows = []

  def done(summaries):  # After each call: the table of the runs so far.
    rows[:] = [row(name, s) for (name, _), s in zip(runs, summaries)
               if s is not None]
    tables.write_table(rows, workdir, 'sweep',
                       title='Sweep: restored PSNR (dB)')

  run_all([cfg for _, cfg in runs],
          [os.path.join(workdir, folder(i, name))
           for i, (name, _) in enumerate(runs)],
          [f'[sweep] {i + 1}/{len(runs)}: {name}'
           for i, (name, _) in enumerate(runs)],
          resume=resume, one_call=bool(config.get('one_call', True)),
          on_done=done)
  _plot(os.path.join(workdir, 'sweep.png'), rows)
  workdir_lib.finish(workdir)
  return rows


def run_all(cfgs, subs, whats, *, resume: bool, one_call: bool = True,
            on_done=None) -> list[dict]:
  """The summary of each run `dd_jax.run.run(cfgs[i], subs[i])`. With
  `resume`, a finished run of the same config already in its folder is
  kept. With `one_call`, runs whose configs differ only in seed, learning
  rate, input jitter std or noise sigma (`engine.ENTRY_FIELDS`) are fitted
  as ONE compiled call (`run.run_variants`), each group in order of its
  first run. Prints `whats[i]` as each run starts (or is kept);
  `on_done(summaries)` after each call (None for the runs not done yet)."""
  summaries = [finished_summary(sub, cfg) if resume else None
               for cfg, sub in zip(cfgs, subs)]
  for what, s in zip(whats, summaries):
    if s is not None:
      print(f'{what} (finished earlier, kept)', flush=True)
  todo = [i for i, s in enumerate(summaries) if s is None]
  if on_done is not None and len(todo) < len(cfgs):
    on_done(summaries)  # The kept runs' rows first.
  groups = (engine.variant_groups([cfgs[i] for i in todo]) if one_call
            else [[g] for g in range(len(todo))])
  for group in groups:
    idx = [todo[g] for g in group]
    for i in idx:
      print(whats[i] + (f' (one compiled call with {len(idx) - 1} other '
                        'run(s))' if len(idx) > 1 else ''), flush=True)
    for i, s in zip(idx, run_lib.run_variants([cfgs[i] for i in idx],
                                              [subs[i] for i in idx])):
      summaries[i] = s
    if on_done is not None:
      on_done(summaries)
  return summaries


def finished_summary(sub: str, cfg) -> dict | None:
  """The summary of the finished run in `sub` if it ran `cfg` (settings
  under `output` aside), else None."""
  if not workdir_lib.is_finished(sub):
    return None
  try:
    with open(os.path.join(sub, workdir_lib.CONFIG)) as f:
      done = json.load(f)
    with open(os.path.join(sub, 'summary.json')) as f:
      summary = json.load(f)
  except (OSError, ValueError):
    return None
  want = json.loads(run_lib.config_json(cfg))
  for c in (done, want):
    c.pop('output', None)
  return summary if done == want else None


def row(name: str, summary: dict) -> dict:
  """The table row of one run's summary (missing values: NaN)."""
  imgs = summary['images'].items()
  psnr = {img: _value(v, 'psnr_restored') for img, v in imgs}
  r = {'override': name, 'params': summary['groups'][0].get('num_params'),
       'mean PSNR': _mean(psnr.values()),
       'mean SSIM': _mean(_value(v, 'ssim_restored') for _, v in imgs)}
  for img, v in psnr.items():
    r[f'{img} PSNR'] = v
  r['seconds'] = summary['seconds']
  return r


def _value(rec: dict, key: str) -> float:
  return np.nan if rec.get(key) is None else float(rec[key])


def _mean(values) -> float:
  finite = [v for v in values if np.isfinite(v)]
  return float(np.mean(finite)) if finite else float('nan')


def _plot(path, rows):
  plt = ex.pyplot()
  fig, ax = plt.subplots(figsize=(6, 0.4 * len(rows) + 1.5), dpi=110)
  y = np.arange(len(rows))
  means = [r['mean PSNR'] for r in rows]
  ax.barh(y, np.nan_to_num(means))
  ax.set_yticks(y, [r['override'] for r in rows], fontsize=7)
  ax.invert_yaxis()
  lo = np.nanmin(means) if np.isfinite(means).any() else 0.0
  ax.set_xlim(max(0, lo - 3), None)
  ax.set_xlabel('mean restored PSNR over images (dB)')
  ax.grid(axis='x', alpha=0.3)
  ex.save_figure(fig, path)


if __name__ == '__main__':
  ex.launch(run, os.path.join(os.path.dirname(__file__), 'config.py') + ':cpu',
            'runs/sweep')
