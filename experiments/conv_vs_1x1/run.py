"""p x p convolutions vs 1x1 at equal parameter counts (paper sec. 3.1).

  python -m experiments.conv_vs_1x1.run \
    --config=experiments/conv_vs_1x1/config.py:cpu --workdir=runs/conv_vs_1x1_cpu

Fits deep decoders with p=3 hidden convs and with p=1 of (nearly) equal
parameter count to clean images (representation error, no noise). All images
of a configuration are fitted together (one vmapped fit). Writes into the
workdir: results.csv / results.md (the reference numbers of REFERENCE.md
section 3 beside ours), results.png, config.json and rows.json (per-image
PSNRs, seconds).
"""

import json
import os
import time

from absl import logging
import ml_collections
import numpy as np

from dd_jax import experiment as ex
from dd_jax import models
from dd_jax.errors import UserError
from dd_jax.fitting import engine
from dd_jax.inverse import operators
from dd_jax.io import inputs

# (p, k) pairs of equal parameter count; the reference's sf4_rgb PSNRs (dB).
PAIRS = [((3, 22), (1, 64)), ((3, 30), (1, 89)), ((3, 43), (1, 129))]
REFERENCE = {(3, 22): 24.50, (1, 64): 24.85, (3, 30): 26.07, (1, 89): 26.54,
             (3, 43): 28.06, (1, 129): 28.46}


def run(config, workdir):
  """Fits each (p, k) of the first `config.pairs` pairs; writes the results."""
  t = time.time()
  ex.prepare(workdir, config)
  c = config.copy_and_resolve_references()
  c.fit.log_every = min(c.fit.log_every, c.fit.steps)
  names, images = inputs.load_stack(c.data, models.size_multiple(c.model))
  specs = model_specs(c, images.shape[1:])  # All checked before any fit.
  rows = [fit_one(c, p, k, spec, names, images) for (p, k), spec in specs]
  write_table(rows, c, names, images.shape[1], workdir)
  plot(rows, os.path.join(workdir, 'results.png'))
  seconds = time.time() - t
  with open(os.path.join(workdir, 'rows.json'), 'w') as f:
    json.dump({'rows': rows, 'seconds': seconds}, f, indent=2)
  logging.info('[conv_vs_1x1] wrote %s in %.0f s', workdir, seconds)
  return rows


def model_specs(c, shape):
  """[((p, k), spec)] for the first `c.pairs` pairs."""
  if not 1 <= c.pairs <= len(PAIRS):
    raise UserError(f'pairs must be 1 to {len(PAIRS)}, got {c.pairs}.')
  out = []
  for pair in PAIRS[:c.pairs]:
    for p, k in pair:
      c.model.conv_size, c.model.k = p, k
      out.append(((p, k), models.make_model(c.model, shape)))
  return out


def fit_one(c, p, k, spec, names, images):
  """Fits all images with one decoder spec; returns the result row."""
  logging.info('[conv_vs_1x1] p=%d k=%d: %s parameters, %d image(s) %dx%d',
               p, k, f'{spec.num_params():,}', len(images), images.shape[1],
               images.shape[2])
  identity = operators.make_operator(
      ml_collections.ConfigDict({'name': 'identity'}), images.shape[1:])
  res = engine.fit_images(c, measurements=images, clean=images, names=names,
                          model=spec, operator=identity, verbose=False)
  psnr = [rec['history'][1][-1] for rec in res]
  logging.info('  PSNR %.2f dB (%.0f s)', np.mean(psnr), res.seconds)
  return {'p': p, 'k': k, 'params': spec.num_params(),
          'psnr_mean': float(np.mean(psnr)),
          **{f'psnr_{n}': v for n, v in zip(names, psnr)},
          'reference_sf4_512': REFERENCE[(p, k)], 'seconds': res.seconds}


def write_table(rows, c, names, size, workdir):
  """results.csv (every field) and results.md (ours beside the reference)."""
  keys = list(rows[0])
  with open(os.path.join(workdir, 'results.csv'), 'w') as f:
    f.write(','.join(keys) + '\n')
    for r in rows:
      f.write(','.join(f'{r[k]:.4f}' if isinstance(r[k], float) else str(r[k])
                       for k in keys) + '\n')
  lines = [f'Representation PSNR (dB), {len(names)} image(s) '
           f'{size}x{size} ({", ".join(names)}), d={c.model.depth}, '
           f'{c.fit.steps} steps, lr {c.optim.lr}.', '',
           '| p | k | parameters | ours (mean) | reference (sf4_rgb 512, '
           '20000 steps) |', '|---|---|---|---|---|']
  for r in rows:
    lines.append(f'| {r["p"]} | {r["k"]} | {r["params"]:,} | '
                 f'{r["psnr_mean"]:.2f} | {r["reference_sf4_512"]:.2f} |')
  with open(os.path.join(workdir, 'results.md'), 'w') as f:
    f.write('\n'.join(lines) + '\n')
  logging.info('%s', '\n'.join(lines))


def plot(rows, path):
  """PSNR against parameter count, ours and the reference, per p."""
  plt = ex.pyplot()
  fig, ax = plt.subplots(figsize=(5.5, 4), dpi=100)
  for p, marker in ((1, 'o'), (3, 's')):
    rs = [r for r in rows if r['p'] == p]
    ax.plot([r['params'] for r in rs], [r['psnr_mean'] for r in rs], marker,
            ls='-', label=f'ours, p={p}')
    ax.plot([r['params'] for r in rs], [r['reference_sf4_512'] for r in rs],
            marker, ls=':', mfc='none', label=f'reference (sf4 512), p={p}')
  ax.set_xlabel('parameters')
  ax.set_ylabel('representation PSNR (dB)')
  ax.set_title('p x p vs 1x1 convolutions at equal parameters')
  ax.grid(alpha=0.3)
  ax.legend(fontsize=8)
  ex.save_figure(fig, path)


if __name__ == '__main__':
  ex.launch(run, os.path.join(os.path.dirname(__file__), 'config.py')
            + ':cpu', 'runs/conv_vs_1x1')
