"""Every upsampling kind of the deep decoder, on representation and denoising
(paper sec. 6.2).

For each kind, one vmapped fit holds 2N problems: the N clean images
(representation: fit the clean image) and the same N images with Gaussian
noise sigma=25/255 (denoising). Writes results.csv / results.md / results.png
into --out. The paper's Fig. 5 (1-D linear vs convex upsampling) is fig5.py.

  PYTHONPATH=. python experiments/upsampling/run.py --preset=cpu --out=runs/upsampling_cpu
  PYTHONPATH=. python experiments/upsampling/run.py --preset=full --out=runs/upsampling
"""

import argparse
import json
import os
import time

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from configs import common
from dd_jax import data as data_lib
from dd_jax import fit as fit_lib
from dd_jax import metrics
from dd_jax import models

KINDS = ('none', 'nearest', 'bilinear', 'linear', 'convex', 'bicubic',
         'gaussian', 'transposed')


def get_config(preset: str) -> ml_collections.ConfigDict:
  """Full: 512x512, k=64, d=6 (25,536 params), 3000 steps, best iterate."""
  c = common.base_config('full')
  c.model.k = 64
  c.model.depth = 6
  c.fit.steps = 3000
  c.fit.log_every = 500
  c.images = ['astronaut', 'coffee', 'chelsea']
  c.size = 512
  c.sigma = 25 / 255
  c.kinds = KINDS
  if preset == 'cpu':   # Minutes: one 64x64 image, k=32, d=4.
    c.images = ['astronaut']
    c.size = 64
    c.model.k = 32
    c.model.depth = 4
    c.fit.steps = 500
    c.fit.log_every = 250
  elif preset != 'full':
    raise ValueError(f'Unknown preset {preset!r}; choose cpu or full.')
  return c


def run(c, out: str):
  os.makedirs(out, exist_ok=True)
  clean = np.stack([data_lib.fit_size(data_lib.load_image(n, 'rgb'), c.size,
                                      1, n) for n in c.images])
  rng = np.random.default_rng(0)
  noisy = np.clip(clean + c.sigma * rng.standard_normal(clean.shape), 0,
                  1).astype(np.float32)
  n = len(clean)
  ys, xs = np.concatenate([clean, noisy]), np.concatenate([clean, clean])
  noisy_psnr = float(np.mean([metrics.psnr(a, b) for a, b in zip(noisy, clean)]))
  rows = []
  for kind in c.kinds:
    c.model.upsample = kind
    spec = models.make_model(c.model, clean.shape[1:])
    keys = jax.random.split(jax.random.key(0), 2 * n)
    print(f'[upsampling] {kind}: {spec.num_params():,} parameters, '
          f'{2 * n} fits {c.size}x{c.size}', flush=True)
    res = fit_lib.fit(keys, spec, lambda x, aux: x, jnp.asarray(ys), {},
                      optim_cfg=c.optim, fit_cfg=c.fit, clean=xs,
                      verbose=False)
    psnr = np.asarray(res.history[-1]['psnr'])
    rows.append({'kind': kind, 'params': spec.num_params(),
                 'representation': float(psnr[:n].mean()),
                 'denoising': float(psnr[n:].mean()),
                 'noisy': noisy_psnr, 'seconds': res.seconds})
    print(f'  representation {psnr[:n].mean():.2f} dB, denoising '
          f'{psnr[n:].mean():.2f} dB ({res.seconds:.0f} s)', flush=True)
    _save_examples(out, kind, res.restored, n)
  write_table(rows, c, out)
  plot(rows, os.path.join(out, 'results.png'))
  return rows


def _save_examples(out, kind, restored, n):
  data_lib.save_png(os.path.join(out, f'{kind}_representation.png'),
                    restored[0])
  data_lib.save_png(os.path.join(out, f'{kind}_denoised.png'), restored[n])


def write_table(rows, c, out):
  keys = list(rows[0])
  with open(os.path.join(out, 'results.csv'), 'w') as f:
    f.write(','.join(keys) + '\n')
    for r in rows:
      f.write(','.join(f'{r[k]:.4f}' if isinstance(r[k], float) else str(r[k])
                       for k in keys) + '\n')
  lines = [f'Mean PSNR (dB) over {", ".join(c.images)} at {c.size}x{c.size}, '
           f'k={c.model.k}, d={c.model.depth}, {c.fit.steps} steps, best '
           f'iterate; denoising sigma=25/255 (noisy {rows[0]["noisy"]:.2f} dB).',
           '', '| upsampling | parameters | representation | denoising |',
           '|---|---|---|---|']
  for r in rows:
    lines.append(f'| {r["kind"]} | {r["params"]:,} | {r["representation"]:.2f}'
                 f' | {r["denoising"]:.2f} |')
  lines += ['', 'Reference (REFERENCE.md section 3): the default bilinear '
            'decoder, astronaut 512, sigma 25, k=64: 29.15 dB (1900 steps).']
  with open(os.path.join(out, 'results.md'), 'w') as f:
    f.write('\n'.join(lines) + '\n')
  with open(os.path.join(out, 'config.json'), 'w') as f:
    f.write(c.to_json(indent=2))
  print('\n'.join(lines), flush=True)


def plot(rows, path):
  import matplotlib
  matplotlib.use('Agg')
  import matplotlib.pyplot as plt
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
  fig.tight_layout()
  fig.savefig(path)
  plt.close(fig)


def main():
  parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
  parser.add_argument('--preset', default='cpu', choices=['cpu', 'full'])
  parser.add_argument('--out', default='runs/upsampling')
  parser.add_argument('--steps', type=int, default=0, help='override steps')
  a = parser.parse_args()
  c = get_config(a.preset)
  if a.steps:
    c.fit.steps = a.steps
    c.fit.log_every = min(c.fit.log_every, a.steps)
  t = time.time()
  rows = run(c, a.out)
  with open(os.path.join(a.out, 'rows.json'), 'w') as f:
    json.dump({'rows': rows, 'seconds': time.time() - t}, f, indent=2)
  print(f'[upsampling] wrote {a.out} in {time.time() - t:.0f} s', flush=True)


if __name__ == '__main__':
  main()
