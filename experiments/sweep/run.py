"""Sweep launcher: one `dd_jax.run.run` per override set, one table.

  python -m experiments.sweep.run --config=experiments/sweep/config.py:cpu \
    --workdir=runs/sweep_cpu

Each run writes its usual workdir (<workdir>/<index>_<name>/); the sweep
writes sweep.csv/.md (mean and per-image PSNR/SSIM, parameters, seconds per
override) and sweep.png (mean PSNR per override).
"""

import json
import os

import ml_collections
import numpy as np

from dd_jax import experiment as ex
from dd_jax.io import tables
from dd_jax import run as run_lib
from dd_jax.errors import UserError


def apply_overrides(base, overrides: dict) -> ml_collections.ConfigDict:
  """A copy of `base` with {'a.b': value} set; unknown keys are errors."""
  c = ml_collections.ConfigDict(base.to_dict())
  for key, value in overrides.items():
    *parents, leaf = key.split('.')
    node = c
    for p in parents:
      if p not in node:
        raise UserError(f'Sweep override {key!r}: no config section {p!r}.')
      node = node[p]
    if leaf not in node:
      raise UserError(f'Sweep override {key!r}: unknown field {leaf!r}; '
                      f'known: {sorted(node.keys())}.')
    node[leaf] = value
  return c


def label(overrides: dict) -> str:
  return ','.join(f'{k}={v}' for k, v in overrides.items()) or 'base'


def run(config, workdir):
  ex.prepare(workdir, config)
  overrides = config.overrides
  if isinstance(overrides, str):
    overrides = json.loads(overrides)
  rows = []
  for i, ov in enumerate(overrides):
    ov = dict(ov)
    cfg = apply_overrides(config.base, ov)
    cfg.output.overwrite = True
    name = label(ov)
    sub = os.path.join(workdir, f'{i:02d}_' + ''.join(
        ch if ch.isalnum() or ch in '.=-' else '_' for ch in name))
    print(f'[sweep] {i + 1}/{len(overrides)}: {name}', flush=True)
    summary = run_lib.run(cfg, sub)
    imgs = summary['images']
    r = {'override': name,
         'params': summary['groups'][0].get('num_params'),
         'mean PSNR': float(np.mean([v['psnr_restored'] for v in
                                     imgs.values()])),
         'mean SSIM': float(np.mean([v['ssim_restored'] for v in
                                     imgs.values()]))}
    for img, v in imgs.items():
      r[f'{img} PSNR'] = v['psnr_restored']
    r['seconds'] = summary['seconds']
    rows.append(r)
  tables.write_table(rows, workdir, 'sweep', title='Sweep: restored PSNR (dB)')
  _plot(os.path.join(workdir, 'sweep.png'), rows)


def _plot(path, rows):
  plt = ex.pyplot()
  fig, ax = plt.subplots(figsize=(6, 0.4 * len(rows) + 1.5), dpi=110)
  y = np.arange(len(rows))
  ax.barh(y, [r['mean PSNR'] for r in rows])
  ax.set_yticks(y, [r['override'] for r in rows], fontsize=7)
  ax.invert_yaxis()
  lo = min(r['mean PSNR'] for r in rows)
  ax.set_xlim(max(0, lo - 3), None)
  ax.set_xlabel('mean restored PSNR over images (dB)')
  ax.grid(axis='x', alpha=0.3)
  fig.tight_layout()
  fig.savefig(path)
  plt.close(fig)


if __name__ == '__main__':
  ex.launch(run, os.path.join(os.path.dirname(__file__), 'config.py') + ':cpu',
            'runs/sweep')
