"""The paper's Fig. 5: a 1-D deep decoder with linear vs convex upsampling
fitted to a piecewise smooth signal.

A 1-D decoder is the 2-D model on an `[n, 1, 1]` image with exact per-layer
sizes (the width stays 1). Linear: (x0, .5 x0 + .5 x1, x1, ...); convex:
(x0, .75 x0 + .25 x1, x1, ...). Writes fig5.png and fig5.json into --out.

  PYTHONPATH=. python experiments/upsampling/fig5.py --out=runs/fig5
"""

import argparse
import json
import os

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from configs import common
from dd_jax import fit as fit_lib
from dd_jax import metrics
from dd_jax import models


def signal(n: int) -> np.ndarray:
  """Piecewise smooth: a sine bump, a ramp, a jump and a parabola."""
  t = np.linspace(0, 1, n, endpoint=False)
  s = np.where(t < 0.3, 0.5 + 0.25 * np.sin(2 * np.pi * t / 0.3),
               np.where(t < 0.55, 0.2 + 1.6 * (t - 0.3),
                        np.where(t < 0.75, 0.8, 0.75 - 6 * (t - 0.87) ** 2)))
  return s.astype(np.float32)


def get_config(n=256, k=6, depth=6, steps=3000):
  c = common.base_config('full')
  c.model.k, c.model.depth = k, depth
  c.model.upsample_to_size = True
  c.fit.steps, c.fit.log_every = steps, steps
  c.n = n
  return c


def run(c, out):
  os.makedirs(out, exist_ok=True)
  x = signal(c.n)[:, None, None]
  results = {}
  for kind in ('linear', 'convex'):
    c.model.upsample = kind
    spec = models.make_model(c.model, x.shape)
    res = fit_lib.fit(jax.random.split(jax.random.key(0), 1), spec,
                      lambda v, aux: v, jnp.asarray(x[None]), {},
                      optim_cfg=c.optim, fit_cfg=c.fit, clean=x[None],
                      verbose=False)
    est = res.restored[0, :, 0, 0]
    results[kind] = {'estimate': est.tolist(),
                     'psnr': float(metrics.psnr(est, x[:, 0, 0])),
                     'params': spec.num_params()}
    print(f'[fig5] {kind}: {spec.num_params()} parameters, PSNR '
          f'{results[kind]["psnr"]:.2f} dB', flush=True)
  with open(os.path.join(out, 'fig5.json'), 'w') as f:
    json.dump({'signal': x[:, 0, 0].tolist(), **results}, f)
  import matplotlib
  matplotlib.use('Agg')
  import matplotlib.pyplot as plt
  fig, axes = plt.subplots(1, 2, figsize=(10, 3.2), dpi=100, sharey=True)
  for ax, kind in zip(axes, ('linear', 'convex')):
    ax.plot(x[:, 0, 0], 'b-', lw=1.5, label='signal')
    ax.plot(results[kind]['estimate'], 'rx', ms=3, label='deep decoder')
    ax.set_title(f'({"ab"[kind == "convex"]}) {kind} upsampling, PSNR '
                 f'{results[kind]["psnr"]:.1f} dB')
    ax.legend(fontsize=8)
  fig.tight_layout()
  fig.savefig(os.path.join(out, 'fig5.png'))
  plt.close(fig)
  return results


def main():
  parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
  parser.add_argument('--out', default='runs/fig5')
  parser.add_argument('--n', type=int, default=256)
  parser.add_argument('--k', type=int, default=6)
  parser.add_argument('--depth', type=int, default=6)
  parser.add_argument('--steps', type=int, default=3000)
  a = parser.parse_args()
  run(get_config(a.n, a.k, a.depth, a.steps), a.out)


if __name__ == '__main__':
  main()
