"""The paper's Fig. 5: a 1-D deep decoder with linear vs convex upsampling
fitted to a piecewise smooth signal.

  python -m experiments.upsampling.fig5 \
    --config=experiments/upsampling/fig5_config.py:cpu --workdir=runs/fig5

A 1-D decoder is the 2-D model on an `[n, 1, 1]` image with exact per-layer
sizes (the width stays 1). Linear: (x0, .5 x0 + .5 x1, x1, ...); convex:
(x0, .75 x0 + .25 x1, x1, ...). Writes fig5.png, fig5.json and config.json
into the workdir.
"""

import json
import os

from absl import logging
import ml_collections
import numpy as np

from dd_jax import experiment as ex
from dd_jax.evaluation import metrics
from dd_jax import models
from dd_jax.errors import UserError
from dd_jax.fitting import engine
from dd_jax.inverse import operators

KINDS = ('linear', 'convex')


def signal(n: int) -> np.ndarray:
  """Piecewise smooth: a sine bump, a ramp, a jump and a parabola."""
  t = np.linspace(0, 1, n, endpoint=False)
  s = np.where(t < 0.3, 0.5 + 0.25 * np.sin(2 * np.pi * t / 0.3),
               np.where(t < 0.55, 0.2 + 1.6 * (t - 0.3),
                        np.where(t < 0.75, 0.8, 0.75 - 6 * (t - 0.87) ** 2)))
  return s.astype(np.float32)


def run(config, workdir):
  """Fits the signal with linear and with convex upsampling; writes both."""
  ex.prepare(workdir, config)
  c = config.copy_and_resolve_references()
  c.fit.log_every = min(c.fit.log_every, c.fit.steps)
  if c.n < 2:
    raise UserError(f'n (the signal length) must be at least 2, got {c.n}.')
  x = signal(c.n)[:, None, None]
  specs = {}
  for kind in KINDS:  # All checked before any fit.
    c.model.upsample = kind
    specs[kind] = models.make_model(c.model, x.shape)
  results = {kind: fit_kind(c, kind, specs[kind], x) for kind in KINDS}
  with open(os.path.join(workdir, 'fig5.json'), 'w') as f:
    json.dump({'signal': x[:, 0, 0].tolist(), **results}, f)
  plot(x[:, 0, 0], results, os.path.join(workdir, 'fig5.png'))
  return results


def fit_kind(c, kind, spec, x):
  """Fits one decoder to the `[n, 1, 1]` signal; estimate, PSNR, params."""
  identity = operators.make_operator(
      ml_collections.ConfigDict({'name': 'identity'}), x.shape)
  res = engine.fit_images(c, measurements=x[None], clean=x[None], model=spec,
                          operator=identity, verbose=False)
  est = res[0]['restored'][:, 0, 0]
  out = {'estimate': est.tolist(),
         'psnr': float(metrics.psnr(est, x[:, 0, 0])),
         'params': spec.num_params()}
  logging.info('[fig5] %s: %d parameters, PSNR %.2f dB', kind,
               out['params'], out['psnr'])
  return out


def plot(sig, results, path):
  """One panel per kind: the signal and the decoder's estimate."""
  plt = ex.pyplot()
  fig, axes = plt.subplots(1, 2, figsize=(10, 3.2), dpi=100, sharey=True)
  for ax, kind in zip(axes, KINDS):
    ax.plot(sig, 'b-', lw=1.5, label='signal')
    ax.plot(results[kind]['estimate'], 'rx', ms=3, label='deep decoder')
    ax.set_title(f'({"ab"[kind == "convex"]}) {kind} upsampling, PSNR '
                 f'{results[kind]["psnr"]:.1f} dB')
    ax.legend(fontsize=8)
  ex.save_figure(fig, path)


if __name__ == '__main__':
  ex.launch(run, os.path.join(os.path.dirname(__file__), 'fig5_config.py')
            + ':cpu', 'runs/fig5')
