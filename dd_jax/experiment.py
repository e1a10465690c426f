"""Shared pieces of the paper experiments (experiments/<name>/run.py).

    names, clean = load_images(config.data, multiple=16)
    bar = Progress(total=len(names) * config.fit.steps)
    results = fit_images(config, names, clean, progress=bar)   # per image
    write_table(rows, workdir, 'table1')                        # CSV + .md

`fit_images` measures and fits exactly as `dd_jax.run.run` does (same keys,
same grouping: all images of one shape in ONE vmapped, sharded call) but
returns arrays instead of writing them, so baselines can use the very same
measurements.
"""

import collections
import csv
import os
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np

from dd_jax.io import images as data_lib
from dd_jax import fitting as fit_lib
from dd_jax.evaluation import metrics
from dd_jax import models
from dd_jax.inverse import operators
from dd_jax import run as run_lib
from dd_jax.fitting import sharding


# ------------------------------------------------------------------ progress
class Progress:
  """One progress bar over a whole experiment (image-steps), with ETA."""

  def __init__(self, total: int, desc: str = 'experiment', stream=None):
    self.total, self.done, self.desc = max(int(total), 1), 0, desc
    self.stream = stream or sys.stdout
    self.t0 = time.time()
    self._last = 0.0

  def update(self, amount: int, note: str = ''):
    self.done = min(self.done + int(amount), self.total)
    now = time.time()
    if now - self._last < 0.5 and self.done < self.total:
      return
    self._last = now
    frac = self.done / self.total
    elapsed = now - self.t0
    eta = elapsed / frac - elapsed if frac > 0 else 0.0
    bar = '#' * int(30 * frac) + '.' * (30 - int(30 * frac))
    self.stream.write(f'\r[{self.desc}] [{bar}] {100 * frac:5.1f}% '
                      f'{self.done}/{self.total} image-steps | '
                      f'{fit_lib._format_eta(elapsed)} elapsed, ETA '
                      f'{fit_lib._format_eta(eta)} {note[:40]:<40}')
    self.stream.flush()

  def close(self):
    self.done = self.total
    self._last = 0.0
    self.update(0)
    self.stream.write('\n')
    self.stream.flush()


# -------------------------------------------------------------------- images
def load_images(data_cfg, multiple: int = 1):
  """Names and clean `[H, W, C]` images from `data_cfg` (images, size,
  channels, crop), cropped to a multiple of `multiple`."""
  sources = data_lib.list_sources(data_cfg.images)
  clean = [data_lib.fit_size(
      data_lib.load_image(s, data_cfg.get('channels', 'auto')),
      int(data_cfg.get('size', 0)), multiple, s, data_cfg.get('crop', True))
           for s in sources]
  return run_lib._names(sources), clean


def load_stack(data_cfg, multiple: int = 1):
  """Names and the `[N, H, W, C]` stack of `load_images`; images of different
  sizes are a user error (one vmapped fit needs one shape)."""
  from dd_jax.errors import UserError
  names, clean = load_images(data_cfg, multiple)
  if len({x.shape for x in clean}) > 1:
    raise UserError('The images differ in size; set data.size > 0 so they '
                    'are resized to one size and fitted together.')
  return names, np.stack(clean)


def groups_by_shape(shapes):
  groups = collections.defaultdict(list)
  for i, shape in enumerate(shapes):
    groups[tuple(shape)].append(i)
  return groups


# ----------------------------------------------------------------------- fit
def fit_group(config, shape, ys, *, keys, auxs=None, clean=None, op=None,
              progress=None, spec=None):
  """Fits a decoder to each of `ys [N, ...]` (images of `shape`) in one
  vmapped, sharded call; returns the FitResult."""
  spec = spec or models.make_model(config.model, shape)
  op = op or operators.make_operator(config.operator, shape)
  n = len(keys)
  auxs = {} if auxs is None else auxs
  last = [0]

  def tick(record):
    if progress is not None:
      progress.update((record['step'] - last[0]) * n,
                      f'{n} image(s) {shape[0]}x{shape[1]}')
    last[0] = record['step']

  return sharding.fit(keys, spec, op.forward, jnp.asarray(ys), auxs,
                      optim_cfg=config.optim, fit_cfg=config.fit,
                      clean=None if clean is None else jnp.asarray(clean),
                      callback=tick, verbose=False,
                      shard=bool(config.get('mesh', {}).get('shard', True)))


def fit_images(config, names, clean, *, progress=None):
  """Measures each clean image with config.operator and fits it, grouped by
  shape. Returns one dict per image: name, clean, y (measurement), aux,
  restored, psnr, ssim, psnr_corrupted (when shapes match), history (steps,
  PSNR of the best iterate, PSNR of the current iterate), losses, params,
  input, spec, seconds (of its group)."""
  root = jax.random.key(int(config.get('seed', 0)))
  out = [None] * len(names)
  for shape, idx in groups_by_shape([c.shape for c in clean]).items():
    spec = models.make_model(config.model, shape)
    op = operators.make_operator(config.operator, shape)
    keys = jnp.stack([jax.random.fold_in(root, i) for i in idx])
    k_fit, k_aux, k_noise = (jax.vmap(lambda k, j=j: jax.random.fold_in(k, j))(
        keys) for j in range(3))
    auxs = jax.vmap(op.make_aux, in_axes=(0, None))(k_aux, 0)
    xs = jnp.asarray(np.stack([clean[i] for i in idx]))
    ys = jax.jit(jax.vmap(lambda k, x, a: operators.measure(
        k, x, op, a, config.operator)))(k_noise, xs, auxs)
    res = fit_group(config, shape, ys, keys=k_fit, auxs=auxs, clean=xs, op=op,
                    progress=progress, spec=spec)
    steps = [h['step'] for h in res.history]
    for j, i in enumerate(idx):
      x, y, r = clean[i], np.asarray(ys[j]), res.restored[j]
      rec = dict(
          name=names[i], clean=x, y=y, restored=r,
          aux=jax.tree.map(lambda a, j=j: np.asarray(a[j]), auxs),
          psnr=psnr(r, x), ssim=ssim(r, x),
          history=(steps, [h['psnr'][j] for h in res.history],
                   [h['psnr_current'][j] for h in res.history]),
          losses=res.losses[j],
          params=jax.tree.map(lambda a, j=j: a[j], res.params),
          best_params=jax.tree.map(lambda a, j=j: a[j], res.best_params),
          input=res.inputs[j], spec=spec, seconds=res.seconds,
          ema=None if res.ema is None else res.ema[j])
      if y.shape == x.shape:
        rec['psnr_corrupted'] = psnr(y, x)
      if res.ema is not None:  # DIP reports the EMA of its outputs.
        rec['psnr_ema'] = psnr(res.ema[j], x)
        rec['ssim_ema'] = ssim(res.ema[j], x)
      out[i] = rec
  return out


def psnr(x, ref) -> float:
  return float(metrics.psnr(jnp.asarray(x), jnp.asarray(ref)))


def ssim(x, ref) -> float:
  return float(metrics.ssim(jnp.asarray(x), jnp.asarray(ref)))


# -------------------------------------------------------------------- tables
def _cell(v):
  if v is None or (isinstance(v, float) and np.isnan(v)):
    return ''
  if isinstance(v, float):
    return f'{v:.4f}' if abs(v) < 1 else f'{v:.2f}'
  return str(v)


def markdown_table(rows, columns) -> str:
  lines = ['| ' + ' | '.join(columns) + ' |',
           '|' + '|'.join('---' for _ in columns) + '|']
  for r in rows:
    lines.append('| ' + ' | '.join(_cell(r.get(c)) for c in columns) + ' |')
  return '\n'.join(lines) + '\n'


def write_table(rows, workdir: str, stem: str, columns=None, title: str = '',
                notes: str = '') -> str:
  """Writes `<stem>.csv` and `<stem>.md` (title, table, notes); returns the
  Markdown and prints it."""
  if columns is None:
    columns = []
    for r in rows:
      columns += [k for k in r if k not in columns]
  with open(os.path.join(workdir, f'{stem}.csv'), 'w', newline='') as f:
    w = csv.DictWriter(f, columns, extrasaction='ignore')
    w.writeheader()
    for r in rows:
      w.writerow({c: r.get(c, '') for c in columns})
  md = (f'## {title}\n\n' if title else '') + markdown_table(rows, columns)
  if notes:
    md += '\n' + notes.strip() + '\n'
  with open(os.path.join(workdir, f'{stem}.md'), 'w') as f:
    f.write(md)
  print(md, flush=True)
  return md


def mean_row(rows, label_key: str, label: str, keys) -> dict:
  """A 'mean' row over `rows` for the numeric `keys` (NaN/missing skipped)."""
  out = {label_key: label}
  for k in keys:
    vals = [r[k] for r in rows if isinstance(r.get(k), (int, float))
            and not np.isnan(r[k])]
    if vals:
      out[k] = float(np.mean(vals))
  return out


def prepare(workdir: str, config, **refusal) -> None:
  """Creates the workdir and writes config.json there; refuses (UserError) a
  workdir that already holds a run unless `config.output.overwrite`.
  `refusal`: `markers` / `other_way` of `run.prepare_workdir`."""
  from dd_jax import run as run_lib
  output = config.get('output') or {}
  run_lib.prepare_workdir(workdir, bool(output.get('overwrite', False)),
                          **refusal)
  with open(os.path.join(workdir, 'config.json'), 'w') as f:
    f.write(config.to_json(indent=2))


def pyplot():
  import matplotlib
  matplotlib.use('Agg')
  import matplotlib.pyplot as plt
  return plt


def launch(run_fn, config: str, workdir: str):
  """The absl entry point of an experiment: `run_fn(config, workdir)` from
  `--config` (default `config`, a config file with its argument) and
  `--workdir` (default `workdir`), with a user error printed as one line
  (exit 2) instead of a traceback.

  The flags are defined here, when the module runs as a script, so importing
  several experiments' run modules (tests, notebooks) defines no flag twice.
  """
  from absl import app
  from absl import flags
  from ml_collections import config_flags
  from dd_jax import errors

  with errors.flag_errors_exit():  # Overrides are read from sys.argv here.
    config_flag = config_flags.DEFINE_config_file(
        'config', config, 'Experiment config file, with its argument after a '
        "colon (a preset: 'cpu', 'full' or 'test').", lock_config=False)
  workdir_flag = flags.DEFINE_string('workdir', workdir, 'Output folder.')

  def main(argv):
    if len(argv) > 1:
      errors.fail(f'unexpected arguments {argv[1:]}; give settings as '
                  '--config.<field>=<value>.')
    workdir = workdir_flag.value
    fresh = not os.path.exists(workdir) or not os.listdir(workdir)
    with errors.user_errors_exit(
        lambda: _undo_prepare(workdir) if fresh else None):
      run_fn(config_flag.value, workdir)

  app.run(main, flags_parser=errors.parse_flags)


def _undo_prepare(workdir: str) -> None:
  """After a user error in a run that started in a fresh workdir and wrote
  nothing but config.json, removes it so the corrected command can reuse the
  workdir."""
  if os.path.isdir(workdir) and os.listdir(workdir) == ['config.json']:
    os.remove(os.path.join(workdir, 'config.json'))
    os.rmdir(workdir)
