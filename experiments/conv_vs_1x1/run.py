"""p x p convolutions vs 1x1 at equal parameter counts (paper sec. 3.1).

Fits deep decoders with p=3 hidden convs and with p=1 of (nearly) equal
parameter count to clean images (representation error, no noise) and writes
results.csv / results.md (with the reference numbers of REFERENCE.md section 3
beside ours) and results.png into --out.

  PYTHONPATH=. python experiments/conv_vs_1x1/run.py --preset=cpu --out=runs/conv_vs_1x1_cpu
  PYTHONPATH=. python experiments/conv_vs_1x1/run.py --preset=full --out=runs/conv_vs_1x1
All images of a configuration are fitted together (one vmapped fit).
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
from dd_jax import models

# (p, k) pairs of equal parameter count; the reference's sf4_rgb PSNRs (dB).
PAIRS = [((3, 22), (1, 64)), ((3, 30), (1, 89)), ((3, 43), (1, 129))]
REFERENCE = {(3, 22): 24.50, (1, 64): 24.85, (3, 30): 26.07, (1, 89): 26.54,
             (3, 43): 28.06, (1, 129): 28.46}
SF4 = os.path.join(os.path.dirname(__file__), '..', '..', '..', 'shared',
                   'images', 'sf4_rgb.png')


def get_config(preset: str) -> ml_collections.ConfigDict:
  """Full: the reference's compression setting (REFERENCE.md section 3)."""
  c = common.base_config('full')
  c.model.depth = 6
  c.optim.lr = 0.005
  c.fit.jitter_std = 0.005
  c.fit.jitter_decay_every = 500
  c.fit.steps = 20000
  c.fit.log_every = 1000
  c.images = ['sf4_rgb' if os.path.isfile(SF4) else 'astronaut']
  c.size = 512
  c.pairs = 3
  if preset == 'cpu':             # Minutes: 64x64, 2 images, first pair.
    c.images = ['astronaut', 'coffee']
    c.size = 64
    c.model.depth = 5
    c.optim.lr = 0.01
    c.fit.jitter_std = 0.0
    c.fit.steps = 800
    c.fit.log_every = 400
    c.pairs = 1
  elif preset != 'full':
    raise ValueError(f'Unknown preset {preset!r}; choose cpu or full.')
  return c


def load(name: str, size: int) -> np.ndarray:
  src = SF4 if name == 'sf4_rgb' else name
  img = data_lib.load_image(src, 'rgb')
  return data_lib.fit_size(img, size, 1, name)


def run(c, out: str):
  os.makedirs(out, exist_ok=True)
  images = np.stack([load(n, c.size) for n in c.images])
  rows = []
  for pair in PAIRS[:c.pairs]:
    for p, k in pair:
      c.model.conv_size, c.model.k = p, k
      spec = models.make_model(c.model, images.shape[1:])
      keys = jax.random.split(jax.random.key(0), len(images))
      print(f'[conv_vs_1x1] p={p} k={k}: {spec.num_params():,} parameters, '
            f'{len(images)} image(s) {images.shape[1]}x{images.shape[2]}',
            flush=True)
      res = fit_lib.fit(keys, spec, lambda x, aux: x, jnp.asarray(images),
                        {}, optim_cfg=c.optim, fit_cfg=c.fit, clean=images,
                        verbose=False)
      psnr = [float(v) for v in res.history[-1]['psnr']]
      rows.append({'p': p, 'k': k, 'params': spec.num_params(),
                   'psnr_mean': float(np.mean(psnr)),
                   **{f'psnr_{n}': v for n, v in zip(c.images, psnr)},
                   'reference_sf4_512': REFERENCE[(p, k)],
                   'seconds': res.seconds})
      print(f'  PSNR {np.mean(psnr):.2f} dB ({res.seconds:.0f} s)', flush=True)
  write_table(rows, c, out)
  plot(rows, c, os.path.join(out, 'results.png'))
  return rows


def write_table(rows, c, out):
  keys = list(rows[0])
  with open(os.path.join(out, 'results.csv'), 'w') as f:
    f.write(','.join(keys) + '\n')
    for r in rows:
      f.write(','.join(f'{r[k]:.4f}' if isinstance(r[k], float) else str(r[k])
                       for k in keys) + '\n')
  lines = [f'Representation PSNR (dB), {len(c.images)} image(s) '
           f'{c.size}x{c.size} ({", ".join(c.images)}), d={c.model.depth}, '
           f'{c.fit.steps} steps, lr {c.optim.lr}.', '',
           '| p | k | parameters | ours (mean) | reference (sf4_rgb 512, '
           '20000 steps) |', '|---|---|---|---|---|']
  for r in rows:
    lines.append(f'| {r["p"]} | {r["k"]} | {r["params"]:,} | '
                 f'{r["psnr_mean"]:.2f} | {r["reference_sf4_512"]:.2f} |')
  with open(os.path.join(out, 'results.md'), 'w') as f:
    f.write('\n'.join(lines) + '\n')
  with open(os.path.join(out, 'config.json'), 'w') as f:
    f.write(c.to_json(indent=2))
  print('\n'.join(lines), flush=True)


def plot(rows, c, path):
  import matplotlib
  matplotlib.use('Agg')
  import matplotlib.pyplot as plt
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
  fig.tight_layout()
  fig.savefig(path)
  plt.close(fig)


def main():
  parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
  parser.add_argument('--preset', default='cpu', choices=['cpu', 'full'])
  parser.add_argument('--out', default='runs/conv_vs_1x1')
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
  print(f'[conv_vs_1x1] wrote {a.out} in {time.time() - t:.0f} s', flush=True)


if __name__ == '__main__':
  main()
