"""Every upsampling kind of the deep decoder, on representation and denoising
(paper sec. 6.2).

  python -m experiments.upsampling.run \
    --config=experiments/upsampling/config.py:cpu --workdir=runs/upsampling_cpu

For each kind, one vmapped fit holds 2N problems: the N clean images
(representation: fit the clean image) and the same N images with Gaussian
noise sigma=25/255 (denoising). Writes into the workdir: results.csv /
results.md / results.png, one example output per kind and task, config.json
and rows.json (with seconds). The paper's Fig. 5 (1-D linear vs convex
upsampling) is fig5.py.
"""

import json
import os
import time

from absl import logging
import ml_collections
import numpy as np

from dd_jax.io import images as data_lib
from dd_jax import experiment as ex
from dd_jax.evaluation import metrics
from dd_jax import models
from dd_jax.errors import UserError
from dd_jax.fitting import engine
from dd_jax.inverse import operators
from dd_jax.io import inputs


def run(config, workdir):
  """Fits every kind of `config.kinds`; writes the results into workdir."""
  t = time.time()
  ex.prepare(workdir, config)
  c = config.copy_and_resolve_references()
  c.fit.log_every = min(c.fit.log_every, c.fit.steps)
  names, clean = inputs.load_stack(c.data, models.size_multiple(c.model))
  specs = model_specs(c, clean.shape[1:])  # All checked before any fit.
  noisy = add_noise(clean, c.sigma, int(c.seed))
  noisy_psnr = float(np.mean([metrics.psnr(a, b)
                              for a, b in zip(noisy, clean)]))
  rows = [fit_kind(c, kind, spec, clean, noisy, noisy_psnr, workdir)
          for kind, spec in specs]
  write_table(rows, c, names, clean.shape[1], workdir)
  plot(rows, os.path.join(workdir, 'results.png'))
  seconds = time.time() - t
  with open(os.path.join(workdir, 'rows.json'), 'w') as f:
    json.dump({'rows': rows, 'seconds': seconds}, f, indent=2)
  logging.info('[upsampling] wrote %s in %.0f s', workdir, seconds)
  return rows


def kinds(c):
  """The upsampling kinds to fit: `c.kinds`, comma-separated (or a tuple)."""
  items = c.kinds.split(',') if isinstance(c.kinds, str) else c.kinds
  out = [str(k).strip() for k in items if str(k).strip()]
  if not out:
    raise UserError('No upsampling kinds given; set kinds, e.g. '
                    '--config.kinds=bilinear,convex.')
  return out


def model_specs(c, shape):
  """[(kind, spec)] for every kind (unknown kinds fail here, before fits)."""
  out = []
  for kind in kinds(c):
    c.model.upsample = kind
    out.append((kind, models.make_model(c.model, shape)))
  return out


def add_noise(clean, sigma, seed):
  """Clean images plus Gaussian noise of std `sigma`, clipped to [0, 1]."""
  rng = np.random.default_rng(seed)
  return np.clip(clean + sigma * rng.standard_normal(clean.shape), 0,
                 1).astype(np.float32)


def fit_kind(c, kind, spec, clean, noisy, noisy_psnr, workdir):
  """One vmapped fit of the N clean and the N noisy images; the result row."""
  n = len(clean)
  ys, xs = np.concatenate([clean, noisy]), np.concatenate([clean, clean])
  logging.info('[upsampling] %s: %s parameters, %d fits %dx%d', kind,
               f'{spec.num_params():,}', 2 * n, clean.shape[1], clean.shape[2])
  identity = operators.make_operator(
      ml_collections.ConfigDict({'name': 'identity'}), clean.shape[1:])
  res = engine.fit_images(c, measurements=ys, clean=xs, model=spec,
                          operator=identity, verbose=False)
  psnr = np.asarray([rec['history'][1][-1] for rec in res])
  logging.info('  representation %.2f dB, denoising %.2f dB (%.0f s)',
               psnr[:n].mean(), psnr[n:].mean(), res.seconds)
  save_examples(workdir, kind, np.stack([rec['restored'] for rec in res]), n)
  return {'kind': kind, 'params': spec.num_params(),
          'representation': float(psnr[:n].mean()),
          'denoising': float(psnr[n:].mean()),
          'noisy': noisy_psnr, 'seconds': res.seconds}


def save_examples(workdir, kind, restored, n):
  data_lib.save_png(os.path.join(workdir, f'{kind}_representation.png'),
                    restored[0])
  data_lib.save_png(os.path.join(workdir, f'{kind}_denoised.png'),
                    restored[n])


def write_table(rows, c, names, size, workdir):
  """results.csv (every field) and results.md (PSNR per kind)."""
  keys = list(rows[0])
  with open(os.path.join(workdir, 'results.csv'), 'w') as f:
    f.write(','.join(keys) + '\n')
    for r in rows:
      f.write(','.join(f'{r[k]:.4f}' if isinstance(r[k], float) else str(r[k])
                       for k in keys) + '\n')
  lines = [f'Mean PSNR (dB) over {", ".join(names)} at {size}x{size}, '
           f'k={c.model.k}, d={c.model.depth}, {c.fit.steps} steps, best '
           f'iterate; denoising sigma={c.sigma * 255:.4g}/255 (noisy '
           f'{rows[0]["noisy"]:.2f} dB).',
           '', '| upsampling | parameters | representation | denoising |',
           '|---|---|---|---|']
  for r in rows:
    lines.append(f'| {r["kind"]} | {r["params"]:,} | {r["representation"]:.2f}'
                 f' | {r["denoising"]:.2f} |')
  lines += ['', 'Reference (REFERENCE.md section 3): the default bilinear '
            'decoder, astronaut 512, sigma 25, k=64: 29.15 dB (1900 steps).']
  with open(os.path.join(workdir, 'results.md'), 'w') as f:
    f.write('\n'.join(lines) + '\n')
  logging.info('%s', '\n'.join(lines))


def plot(rows, path):
  """Bars: representation and denoising PSNR per kind, noisy-input line."""
  plt = ex.pyplot()
  fig, ax = plt.subplots(figsize=(7, 4), dpi=100)
  x = np.arange(len(rows))
  ax.bar(x - 0.2, [r['representation'] for r in rows], 0.4,
         label='representation')
  ax.bar(x + 0.2, [r['denoising'] for r in rows], 0.4, label='denoising')
  ax.axhline(rows[0]['noisy'], color='k', ls=':', lw=1, label='noisy input')
  ax.set_xticks(x, [r['kind'] for r in rows], rotation=30)
  ax.set_ylabel('PSNR (dB)')
  lo = min(min(r['representation'], r['denoising']) for r in rows)
  ax.set_ylim(max(lo - 2, 0), None)
  ax.legend(fontsize=8)
  ax.grid(alpha=0.3, axis='y')
  ex.save_figure(fig, path)


if __name__ == '__main__':
  ex.launch(run, os.path.join(os.path.dirname(__file__), 'config.py')
            + ':cpu', 'runs/upsampling')
