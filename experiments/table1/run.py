"""Table 1: DN / SR / IP with the deep decoder, DIP and classical baselines.

  python -m experiments.table1.run --config=experiments/table1/config.py:cpu \
    --workdir=runs/table1_cpu

Writes table1_{dn,sr,ip}.csv/.md, table1.md (all three, our numbers beside
the paper's), table1_psnr.png (PSNR per image and method) and, per task and
image, the restored PNGs (<task>_<image>_<method>.png).
"""

import copy
import os
import time

import numpy as np

from dd_jax.evaluation import baselines
from dd_jax.io import images as data_lib
from dd_jax import experiment as ex
from dd_jax.fitting import engine
from dd_jax.io import inputs
from dd_jax.io import progress
from dd_jax.io import tables
from dd_jax import models
from dd_jax.errors import UserError


# Paper Table 1 (512x512; DN sigma 25, SR x4, IP): image -> {column: PSNR}.
PAPER = {
    'dn': {'astronaut': dict(identity=20.6, dd=29.8, dip=26.1, bm3d=26.2),
           'mri': dict(identity=22.1, dd=26.9, dip=26.6, bm3d=28.0)},
    'sr': {'astronaut': dict(bicubic=29.3, dd=30.2, dip=29.6),
           'mri': dict(bicubic=24.5, dd=26.4, dip=25.6)},
    'ip': {'astronaut': dict(identity=14.0, dd=36.5, dip=35.3),
           'mri': dict(identity=18.3, dd=31.4, dip=32.1)},
}
TASK_NAMES = {'dn': 'denoising, sigma 25', 'sr': 'x4 super-resolution',
              'ip': 'inpainting, 50% of pixels observed'}


def _baseline(task, name, rec, cfg):
  if task == 'dn':
    return baselines.get(baselines.DENOISERS, name, 'denoiser')(
        rec['y'], float(cfg.operator.noise.sigma))
  if task == 'sr':
    return baselines.get(baselines.UPSAMPLERS, name, 'upsampler')(
        rec['y'], int(cfg.operator.downsample.factor))
  return baselines.get(baselines.INPAINTERS, name, 'inpainter')(
      rec['y'], rec['aux']['mask'])


def fit_configs(config, tasks):
  """The config of each fit (task, method) on config.data, for ex.prepare
  to validate before the workdir is touched."""
  out = []
  for t in tasks:
    for methods in (config.dd, config.dip):
      if t in methods:
        cfg = copy.deepcopy(methods[t])
        cfg.data = config.data
        out.append(cfg)
  return out


def run(config, workdir):
  tasks = [t for t in config.tasks.split('+') if t]
  for t in tasks:
    if t not in ('dn', 'sr', 'ip'):
      raise UserError(f"Unknown task {t!r}; tasks are 'dn', 'sr', 'ip'.")
  ex.prepare(workdir, config, runs=fit_configs(config, tasks))
  mult = int(np.lcm.reduce([models.size_multiple(config.dd[t].model)
                            for t in tasks] + [4]))
  names, clean = inputs.load_images(config.data, mult)
  methods = {t: ['dd'] + (['dip'] if t in config.dip else []) for t in tasks}
  total = sum(len(names) * (config.dd[t].fit.steps +
                            (config.dip[t].fit.steps if t in config.dip else 0))
              for t in tasks)
  bar = progress.Progress(total, 'table1')
  md, t0 = [], time.time()
  timing = {}
  for task in tasks:
    cols = {}
    for m in methods[task]:
      cfg = config.dd[task] if m == 'dd' else config.dip[task]
      cfg.mesh = config.mesh
      cfg.seed = config.seed  # Same seed: the same measurements for every method.
      t = time.time()
      cols[m] = engine.fit_images(cfg, clean=clean, names=names,
                                  progress=bar, verbose=False)
      timing[f'{task}/{m}'] = time.time() - t
    rows, ref = [], cols['dd']
    for i, name in enumerate(names):
      r = dict(image=name, size=f'{clean[i].shape[0]}x{clean[i].shape[1]}x'
               f'{clean[i].shape[2]}')
      if 'psnr_corrupted' in ref[i]:
        r['identity'] = ref[i]['psnr_corrupted']
      r['DD PSNR'], r['DD SSIM'] = ref[i]['psnr'], ref[i]['ssim']
      _save(workdir, task, name, 'dd', ref[i]['restored'])
      _save(workdir, task, name, 'measurement', ref[i]['y'])
      if 'dip' in cols:
        d = cols['dip'][i]
        np.testing.assert_array_equal(d['y'], ref[i]['y'])  # Same measurement.
        r['DIP PSNR'], r['DIP SSIM'] = d['psnr_ema'], d['ssim_ema']
        r['DIP last PSNR'] = d['psnr']
        _save(workdir, task, name, 'dip', d['ema'])
      for b in [b for b in config.baselines[task].split(',') if b]:
        t = time.time()
        out = _baseline(task, b, ref[i], config.dd[task])
        timing[f'{task}/{b}'] = timing.get(f'{task}/{b}', 0) + time.time() - t
        r[f'{b} PSNR'], r[f'{b} SSIM'] = engine.psnr(out, clean[i]), engine.ssim(
            out, clean[i])
        _save(workdir, task, name, b, out)
      for k, v in PAPER[task].get(name, {}).items():
        r[f'paper {k}'] = v
      rows.append(r)
    keys = [k for k in dict.fromkeys(k for r in rows for k in r)
            if k not in ('image', 'size')]
    rows.append(tables.mean_row(rows, 'image', 'mean', [k for k in keys
                                                         if 'paper' not in k]))
    cols_order = ['image', 'size'] + keys
    md.append(tables.write_table(
        rows, workdir, f'table1_{task}', cols_order,
        title=f'{task.upper()}: {TASK_NAMES[task]} (PSNR dB, SSIM)'))
    _plot(os.path.join(workdir, f'table1_{task}.png'), rows[:-1], task)
  bar.close()
  notes = (f'preset {config.preset}; total {time.time() - t0:.0f} s; '
           + ', '.join(f'{k} {v:.0f} s' for k, v in timing.items()))
  with open(os.path.join(workdir, 'table1.md'), 'w') as f:
    f.write('# Table 1 reproduction\n\n' + '\n'.join(md) + '\n' + notes + '\n')
  print(notes)


def _save(workdir, task, name, method, img):
  data_lib.save_png(os.path.join(workdir, f'{task}_{name}_{method}.png'), img)


def _plot(path, rows, task):
  plt = ex.pyplot()
  methods = [k[:-5] for k in rows[0] if k.endswith(' PSNR') and 'last' not in k]
  fig, ax = plt.subplots(figsize=(max(5, 1.1 * len(rows) + 2), 3.6), dpi=110)
  width = 0.8 / max(len(methods), 1)
  x = np.arange(len(rows))
  for j, m in enumerate(methods):
    ax.bar(x + j * width, [r.get(f'{m} PSNR', np.nan) for r in rows], width,
           label=m)
  if 'identity' in rows[0]:
    ax.plot(x + 0.4 - width / 2, [r['identity'] for r in rows], 'k_',
            markersize=14, label='measurement')
  ax.set_xticks(x + 0.4 - width / 2, [r['image'] for r in rows], rotation=20)
  ax.set_ylabel('PSNR vs clean image (dB)')
  ax.set_title(TASK_NAMES[task])
  lo = min(r.get(f'{m} PSNR', 99) for r in rows for m in methods)
  ax.set_ylim(max(0, lo - 4), None)
  ax.legend(fontsize=7, ncol=3)
  ax.grid(axis='y', alpha=0.3)
  ex.save_figure(fig, path)


if __name__ == '__main__':
  ex.launch(run, os.path.join(os.path.dirname(__file__), 'config.py') + ':cpu',
            'runs/table1')
