"""Figure 4: the deep decoder cannot fit noise; DIP can.

  python -m experiments.fig4_fit_noise.run \
    --config=experiments/fig4_fit_noise/config.py:cpu --workdir=runs/fig4_cpu

The three targets (noisy image, clean image, pure noise) are fitted in ONE
vmapped call per model. Writes fig4.csv/.md (MSE at a few steps), fig4.png
(log-log MSE vs step, three panels) and fig4_curves.csv (every logged step).
"""

import os

import jax
import ml_collections
import numpy as np

from dd_jax import experiment as ex
from dd_jax.fitting import engine
from dd_jax.io import inputs
from dd_jax.io import progress
from dd_jax.io import tables
from dd_jax import models


PANELS = ('noisy image (MSE to clean)', 'clean image', 'pure noise')


def _dip_config(config):
  c = ml_collections.ConfigDict(config.to_dict())
  c.model.name, c.model.upsample = 'dip', 'bilinear'
  c.model.activation, c.model.leaky_slope = 'leaky_relu', 0.2
  w, s = config.dip.width, config.dip.scales
  c.model.dip = ml_collections.ConfigDict(dict(
      scales=s, channels_down=(w,) * s, channels_up=(w,) * s,
      channels_skip=(4,) * s, input_channels=32))
  return c


def run(config, workdir):
  ex.prepare(workdir, config)
  models_ = {'deep decoder': config}
  if config.dip.enabled:
    models_['DIP'] = _dip_config(config)
  mult = int(np.lcm.reduce([models.size_multiple(c.model)
                            for c in models_.values()]))
  _, clean = inputs.load_images(config.data, mult)
  x = clean[0]
  eta = float(config.operator.noise.sigma) * np.asarray(jax.random.normal(
      jax.random.key(config.seed + 1), x.shape), np.float32)
  ys = np.stack([np.clip(x + eta, 0, 1), x, 0.5 + eta])
  refs = np.stack([x, x, 0.5 + eta])
  bar = progress.Progress(3 * config.fit.steps * len(models_), 'fig4')
  curves, rows = {}, []
  for name, cfg in models_.items():
    res = engine.fit_images(cfg, measurements=ys, clean=refs, progress=bar,
                            verbose=False)
    steps = np.array(res[0]['history'][0])
    mse = 10 ** (-np.array([rec['history'][2] for rec in res]).T / 10)
    curves[name] = (steps, mse)
    n = models.make_model(cfg.model, x.shape).num_params()
    for j, panel in enumerate(PANELS):
      r = dict(model=name, params=n, target=panel)
      for frac in (0.1, 0.5, 1.0):
        i = max(int(round(frac * len(steps))) - 1, 0)
        r[f'MSE @ {steps[i]}'] = float(mse[i, j])
      r['noise energy fitted'] = (1 - float(mse[-1, j]) / float(np.mean(
          eta ** 2))) if j == 2 else None
      rows.append(r)
  bar.close()
  tables.write_table(rows, workdir, 'fig4',
                     title='MSE vs step (noise sigma '
                     f'{255 * float(config.operator.noise.sigma):.0f}/255, '
                     f'{x.shape[0]}x{x.shape[1]})',
                     notes='noise energy fitted = 1 - MSE / mean(eta^2) for the '
                     'pure-noise target.')
  with open(os.path.join(workdir, 'fig4_curves.csv'), 'w') as f:
    f.write('model,step,' + ','.join(PANELS) + '\n')
    for name, (steps, mse) in curves.items():
      for s, m in zip(steps, mse):
        f.write(f'{name},{s},' + ','.join(f'{v:.6g}' for v in m) + '\n')
  _plot(os.path.join(workdir, 'fig4.png'), curves, float(np.mean(eta ** 2)))


def _plot(path, curves, noise_energy):
  plt = ex.pyplot()
  fig, axes = plt.subplots(1, 3, figsize=(12, 3.6), dpi=110)
  for j, (ax, panel) in enumerate(zip(axes, PANELS)):
    for name, (steps, mse) in curves.items():
      ax.loglog(steps, mse[:, j], label=name)
    if j == 2:
      ax.axhline(noise_energy, color='gray', ls=':', label='noise energy')
    ax.set_title(f'({"abc"[j]}) fit {panel}', fontsize=9)
    ax.set_xlabel('optimizer step')
    ax.set_ylabel('MSE (per pixel, [0, 1] scale)')
    ax.grid(alpha=0.3, which='both')
    ax.legend(fontsize=7)
  ex.save_figure(fig, path)


if __name__ == '__main__':
  ex.launch(run, os.path.join(os.path.dirname(__file__), 'config.py') + ':cpu',
            'runs/fig4')
