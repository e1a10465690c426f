"""Automatic width: the best k per noise sigma, the fitted rule, its check.

  python -m experiments.auto_width.run \
    --config=experiments/auto_width/config.py:cpu --workdir=runs/auto_width_cpu

Every image is fitted at every width of `widths`, all `sigmas` of one width
in one compiled call (operator.noise.sigma is a per-entry setting). Writes
grid.csv/.md (PSNR per image, sigma and width, the best width), rule.json
and rule.md (the fitted K_REF and SLOPE against models/width.py's),
validation.csv/.md (default width / rule / oracle on the validation
images), auto_width.png (best k vs sigma with the rule) and results.json.
"""

import json
import os

from absl import logging
import ml_collections
import numpy as np

from dd_jax import experiment as ex
from dd_jax.errors import UserError
from dd_jax.fitting import engine
from dd_jax.fitting import stopping
from dd_jax.io import inputs
from dd_jax.io import progress
from dd_jax.io import tables
from dd_jax.io import writers
from dd_jax.models import width as width_lib


def _ints(text: str, name: str) -> list[int]:
  try:
    out = [int(v) for v in str(text).split(',') if v.strip()]
  except ValueError:
    raise UserError(f'{name}={text!r}: give comma-separated whole numbers.')
  if not out or min(out) <= 0:
    raise UserError(f'{name}={text!r}: give positive values.')
  return out


def run_config(config, images: str, k: int, sigma: float):
  c = ml_collections.ConfigDict()
  c.seed = config.seed
  for key in ex.RUN_SECTIONS + ('mesh', 'output'):
    c[key] = ml_collections.ConfigDict(config[key].to_dict())
  c.data.images, c.model.k = images, int(k)
  c.operator.noise.sigma = float(sigma) / 255
  return c


def best_width(ks, psnrs) -> float:
  """The peak of the parabola in log k through the best grid point and its
  neighbours (the grid's end when the best is at an end)."""
  ks, psnrs = np.asarray(ks, float), np.asarray(psnrs, float)
  i = int(np.argmax(psnrs))
  if i in (0, len(ks) - 1):
    return float(ks[i])
  x, y = np.log(ks[i - 1:i + 2]), psnrs[i - 1:i + 2]
  a, b, _ = np.polyfit(x, y, 2)
  if a >= 0:
    return float(ks[i])
  return float(np.exp(np.clip(-b / (2 * a), x[0], x[-1])))


def fit_rule(points) -> tuple[float, float]:
  """(K_REF, SLOPE) of log(k* 256 / side) = log K_REF - SLOPE log(s / 25)
  by least squares over points (sigma, side, k*)."""
  s, side, k = (np.asarray(v, float) for v in zip(*points))
  a = np.stack([np.ones_like(s), -np.log(s / width_lib.SIGMA_REF)], 1)
  coef, *_ = np.linalg.lstsq(a, np.log(k * width_lib.SIDE_REF / side),
                             rcond=None)
  return float(np.exp(coef[0])), float(coef[1])


def grid(config, images: str, widths, sigmas, bar, tag: str) -> dict:
  """{name: {sigma: {k: psnr}}} and {name: {sigma: estimated sigma}}."""
  out, est = {}, {}
  for k in widths:
    cfgs = [run_config(config, images, k, s) for s in sigmas]
    names, clean = inputs.load_images(cfgs[0].data,
                                      inputs.size_multiple(cfgs[0]))
    res = engine.fit_variants(cfgs, clean=clean, names=names, progress=bar,
                              verbose=False)
    for s, r in zip(sigmas, res):
      for rec in r:
        out.setdefault(rec['name'], {}).setdefault(s, {})[k] = float(
            rec['psnr'])
        est.setdefault(rec['name'], {})[s] = 255 * stopping.estimate_sigma(
            rec['y'])
    logging.info('[auto_width] %s: k=%d done', tag, k)
  return out, est, {n: x.shape for n, x in zip(names, clean)}


def read_grid(source: str):
  """(fit psnr, fit sigma estimates, validation psnr, estimates) from the
  results.json of an earlier run (or the workdir holding it)."""
  path = (os.path.join(source, 'results.json') if os.path.isdir(source)
          else source)
  if not os.path.isfile(path):
    raise UserError(f'grid_from={source!r}: no results.json there; give an '
                    'earlier auto_width workdir.')
  with open(path) as f:
    res = json.load(f)
  tabs = {'fit': {}, 'validate': {}}
  for row in res['grid']:
    per_k = {int(k[2:]): v for k, v in row.items()
             if k.startswith('k=') and v is not None}
    tabs[row['set']].setdefault(row['image'], {})[int(row['sigma'])] = per_k
  est = {part: {n: {int(s): v for s, v in d.items()}
                for n, d in res['estimated_sigma'][part].items()}
         for part in ('fit', 'validate')}
  return tabs['fit'], est['fit'], tabs['validate'], est['validate']


def run(config, workdir):
  widths = _ints(config.widths, 'widths')
  sigmas = _ints(config.sigmas, 'sigmas')
  if len(widths) < 2:
    raise UserError('widths: give at least two widths to compare.')
  checks = [run_config(config, config[part], k, sigmas[0])
            for part in ('fit_images', 'validate_images') for k in widths[:1]]
  ex.prepare(workdir, config, runs=checks)
  n_img = sum(len(inputs.load_images(c.data)[0]) for c in checks)
  bar = progress.Progress(n_img * len(widths) * len(sigmas) *
                          int(config.fit.steps), 'auto_width')
  if config.grid_from:  # an earlier run's grid: refit the rule, revalidate
    fit_psnr, fit_est, val_psnr, val_est = read_grid(config.grid_from)
    fit_shapes, val_shapes = (
        {n: x.shape for n, x in zip(*inputs.load_images(c.data,
                                                        inputs.size_multiple(
                                                            c)))}
        for c in checks)
  else:
    fit_psnr, fit_est, fit_shapes = grid(config, config.fit_images, widths,
                                         sigmas, bar, 'fit images')
    val_psnr, val_est, val_shapes = grid(config, config.validate_images,
                                         widths, sigmas, bar, 'validation')
  points, rows = [], []
  for part, table, shapes in (('fit', fit_psnr, fit_shapes),
                              ('validate', val_psnr, val_shapes)):
    for name, per_sigma in table.items():
      side = float(np.sqrt(shapes[name][0] * shapes[name][1]))
      for s, per_k in per_sigma.items():
        kstar = best_width(list(per_k), list(per_k.values()))
        if part == 'fit':
          points.append((s, side, kstar))
        rows.append(dict(set=part, image=name, sigma=s,
                         **{f'k={k}': v for k, v in per_k.items()},
                         **{'best k': kstar}))
  tables.write_table(rows, workdir, 'grid', title='PSNR (dB) per width',
                     notes='best k: the peak of a parabola in log k through '
                     'the best grid width and its neighbours.')
  k_ref, slope = fit_rule(points)
  rule = dict(k_ref=k_ref, slope=slope, points=points,
              library=dict(k_ref=width_lib.K_REF, slope=width_lib.SLOPE))
  writers.write_json(os.path.join(workdir, 'rule.json'), rule)
  logging.info('[auto_width] fitted rule: k = %.1f (sigma/25)^-%.3f '
               '(side/256); library: %.1f, %.3f', k_ref, slope,
               width_lib.K_REF, width_lib.SLOPE)
  val_rows = validate(config, val_psnr, val_est, val_shapes, widths, bar)
  bar.close()
  tables.write_table(
      val_rows, workdir, 'validation', title='Validation: PSNR (dB) by width',
      notes='default: k=64 at 256x256 scaled by side/256 (the nearest grid '
      'width); rule: models/width.py at the sigma estimated from the '
      'measurement; oracle: the best grid width of each image and sigma.')
  _plot(os.path.join(workdir, 'auto_width.png'), points, k_ref, slope)
  writers.write_json(os.path.join(workdir, 'results.json'), dict(
      grid=rows, rule=rule, validation=val_rows,
      estimated_sigma=dict(fit=fit_est, validate=val_est)))


def validate(config, table, est, shapes, widths, bar) -> list[dict]:
  rows = []
  extra = {}  # (name, sigma) -> rule k off the grid, fitted below
  for name, per_sigma in table.items():
    for s in per_sigma:
      k = width_lib.auto_k(est[name][s], shapes[name][:2])
      if k not in per_sigma[s]:
        extra.setdefault(k, []).append((name, s))
  for k, todo in extra.items():
    for s in sorted({s for _, s in todo}):
      names = [n for n, t in todo if t == s]
      c = run_config(config, ','.join(names), k, s)
      nm, clean = inputs.load_images(c.data, inputs.size_multiple(c))
      for rec in engine.fit_images(c, clean=clean, names=nm, verbose=False):
        table[rec['name']][s][k] = float(rec['psnr'])
  for name, per_sigma in table.items():
    side = np.sqrt(shapes[name][0] * shapes[name][1])
    default = min(widths, key=lambda w: abs(np.log(w / (64 * side / 256))))
    for s, per_k in per_sigma.items():
      k = width_lib.auto_k(est[name][s], shapes[name][:2])
      grid_ks = [w for w in widths if w in per_k]
      oracle = max(grid_ks, key=lambda w: per_k[w])
      rows.append({'image': name, 'sigma': s,
                   'sigma est': est[name][s], 'default k': default,
                   'default PSNR': per_k[default], 'rule k': k,
                   'rule PSNR': per_k[k], 'oracle k': oracle,
                   'oracle PSNR': per_k[oracle],
                   'rule - default': per_k[k] - per_k[default]})
  for s in sorted({r['sigma'] for r in rows}):
    sub = [r for r in rows if r['sigma'] == s]
    rows.append(tables.mean_row(sub, 'image', f'mean sigma {s}', [
        'default PSNR', 'rule PSNR', 'oracle PSNR', 'rule - default']))
    rows[-1]['sigma'] = s
  return rows


def _plot(path, points, k_ref, slope):
  plt = ex.pyplot()
  fig, ax = plt.subplots(figsize=(5, 3.6), dpi=110)
  s, side, k = (np.asarray(v, float) for v in zip(*points))
  ax.loglog(s, k * width_lib.SIDE_REF / side, 'o', label='best k (fit images)')
  grid_s = np.geomspace(s.min() * 0.8, s.max() * 1.2, 50)
  ax.loglog(grid_s, k_ref * (grid_s / 25) ** -slope,
            label=f'fit: {k_ref:.0f} (sigma/25)^-{slope:.2f}')
  ax.loglog(grid_s, width_lib.K_REF * (grid_s / 25) ** -width_lib.SLOPE, '--',
            label='models/width.py')
  ax.set_xlabel('noise sigma (1/255)')
  ax.set_ylabel('k at 256x256')
  ax.grid(alpha=0.3, which='both')
  ax.legend(fontsize=7)
  ex.save_figure(fig, path)


if __name__ == '__main__':
  ex.launch(run, os.path.join(os.path.dirname(__file__), 'config.py') + ':cpu',
            'runs/auto_width')
