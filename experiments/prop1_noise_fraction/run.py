"""Proposition 1: how much pure noise a deep decoder can fit.

  python -m experiments.prop1_noise_fraction.run \
    --config=experiments/prop1_noise_fraction/config.py:cpu \
    --workdir=runs/prop1_cpu

Writes prop1.csv/.md (per k and n: parameters N, n0, k^2 log(n0)/n, fraction
of the noise energy fitted = 1 - ||G(C) - y||^2 / ||eta||^2, mean over draws)
and prop1.png (fraction vs k^2 log(n0)/n and vs N/n, log x axis).
"""

import math
import os

import jax
import numpy as np

from dd_jax import experiment as ex
from dd_jax.fitting import engine
from dd_jax.io import progress
from dd_jax.io import tables
from dd_jax import models


def run(config, workdir):
  ex.prepare(workdir, config)
  total = len(config.ks) * len(config.sides) * config.draws * config.fit.steps
  bar = progress.Progress(total, 'prop1')
  rows = []
  for side in config.sides:
    shape = (side, side, 1)
    key = jax.random.key(config.seed + side)
    eta = float(config.noise_sigma) * np.asarray(jax.random.normal(
        key, (config.draws, *shape)), np.float32)
    ys = 0.5 + eta
    for k in config.ks:
      config.model.k = int(k)
      spec = models.make_model(config.model, shape)
      res = engine.fit_images(config, measurements=ys, model=spec,
                              progress=bar, verbose=False)
      restored = np.stack([rec['restored'] for rec in res])
      resid = np.mean((restored - ys) ** 2, axis=(1, 2, 3))
      frac = 1 - resid / np.mean(eta ** 2, axis=(1, 2, 3))
      n, n0 = side * side, spec.input_hw[0] * spec.input_hw[1]
      rows.append(dict(k=int(k), n=n, n0=n0, params=spec.num_params(),
                       **{'k^2 log(n0)/n': k * k * math.log(n0) / n,
                          'N/n': spec.num_params() / n,
                          'fraction fitted': float(frac.mean()),
                          'fraction std': float(frac.std())}))
  bar.close()
  tables.write_table(rows, workdir, 'prop1',
                     title='Fraction of pure-noise energy fitted',
                     notes=f'depth {config.model.depth}, noise sigma '
                     f'{config.noise_sigma}, {config.fit.steps} Adam steps, '
                     f'{config.draws} draws. Proposition 1 (one layer) bounds '
                     'the fraction by 20 k^2 log(n0)/n when k^2 log(n0)/n <= 1/32.')
  _plot(os.path.join(workdir, 'prop1.png'), rows, config)


def _plot(path, rows, config):
  plt = ex.pyplot()
  fig, axes = plt.subplots(1, 2, figsize=(10, 4), dpi=110)
  for ax, xkey in zip(axes, ('k^2 log(n0)/n', 'N/n')):
    for side in config.sides:
      rs = [r for r in rows if r['n'] == side * side]
      ax.semilogx([r[xkey] for r in rs], [r['fraction fitted'] for r in rs],
                  'o-', label=f'n = {side}x{side}')
    if xkey.startswith('k^2'):
      xs = np.array(sorted(r[xkey] for r in rows))
      ax.semilogx(xs, np.minimum(20 * xs, 1), 'k--', lw=0.8,
                  label='bound 20 k^2 log(n0)/n (capped at 1)')
    ax.set_xlabel(xkey + (' (parameters / pixels)' if xkey == 'N/n' else ''))
    ax.set_ylabel('fraction of noise energy fitted')
    ax.grid(alpha=0.3, which='both')
    ax.legend(fontsize=7)
  fig.suptitle(f'Deep decoder (d={config.model.depth}) fitting pure noise',
               fontsize=10)
  ex.save_figure(fig, path)


if __name__ == '__main__':
  ex.launch(run, os.path.join(os.path.dirname(__file__), 'config.py') + ':cpu',
            'runs/prop1')
