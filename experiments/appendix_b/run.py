"""Appendix B (Figs. 7 and 8): perturb one layer's weights at a given SNR.

  python -m experiments.appendix_b.run \
    --config=experiments/appendix_b/config.py:cpu --workdir=runs/appb_cpu

Fits one decoder, then for each layer i (hidden 1..d and the output conv)
and each SNR adds Gaussian noise with ||C_i||^2 / ||noise||^2 = 10^(SNR/10)
to C_i only, `draws` times (vmapped), and measures the PSNR of the output
against the clean image. Writes appb.csv/.md, fig7_sensitivity.png and
fig8_histograms.png.
"""

import math
import os

import jax
import jax.numpy as jnp
import numpy as np

from dd_jax import experiment as ex
from dd_jax.fitting import engine
from dd_jax.io import inputs
from dd_jax.io import progress
from dd_jax.io import tables
from dd_jax.evaluation import metrics
from dd_jax import models


def _layers(params):
  """(label, path) of each weight matrix C_i."""
  depth = sum(1 for name in params if name.startswith('layer_'))
  return [(f'layer {i + 1}', f'layer_{i}') for i in range(depth)] + [
      ('output', 'out')]


def _get(params, path):
  return params[path]['w']


def _set(params, path, w):
  return {**params, path: dict(params[path], w=w)}


def run(config, workdir):
  ex.prepare(workdir, config)
  names, clean = inputs.load_images(config.data, models.size_multiple(config.model))
  bar = progress.Progress(config.fit.steps, 'appendix_b')
  rec = engine.fit_images(config, clean=clean[:1], names=names[:1],
                          progress=bar, verbose=False)[0]
  bar.close()
  spec, params, z, x = rec['model'], rec['best_params'], rec['input'], rec['clean']
  params = jax.tree.map(jnp.asarray, params)

  rows = []
  for label, path in _layers(params):
    w = _get(params, path)

    @jax.jit
    def psnrs(keys, snr_db, w=w, path=path):
      def one(key):
        noise = jax.random.normal(key, w.shape, w.dtype)
        scale = jnp.sqrt(jnp.sum(w ** 2) / jnp.sum(noise ** 2) /
                         10 ** (snr_db / 10))
        out = spec.apply({'params': _set(params, path, w + scale * noise)}, z)
        return metrics.psnr(out, jnp.asarray(x))
      return jax.vmap(one)(keys)

    for snr in config.snr_db:
      keys = jax.random.split(jax.random.key(int(snr) + 7), config.draws)
      p = np.asarray(psnrs(keys, jnp.float32(snr)))
      rows.append({'layer': label, 'SNR dB': snr, 'PSNR mean': float(p.mean()),
                   'PSNR std': float(p.std())})
  tables.write_table(rows, workdir, 'appb',
                     title=f'PSNR after perturbing one layer (unperturbed fit: '
                     f'{rec["psnr"]:.2f} dB)',
                     notes=f'{names[0]} {x.shape[0]}x{x.shape[1]}, '
                     f'{spec.describe()}, {config.fit.steps} steps, '
                     f'{config.draws} noise draws per point.')
  _plot_sensitivity(os.path.join(workdir, 'fig7_sensitivity.png'), rows,
                    rec['psnr'])
  _plot_histograms(os.path.join(workdir, 'fig8_histograms.png'), params)


def _plot_sensitivity(path, rows, base):
  plt = ex.pyplot()
  fig, ax = plt.subplots(figsize=(5.5, 4), dpi=110)
  for label in dict.fromkeys(r['layer'] for r in rows):
    rs = [r for r in rows if r['layer'] == label]
    ax.errorbar([r['SNR dB'] for r in rs], [r['PSNR mean'] for r in rs],
                [r['PSNR std'] for r in rs], marker='o', ms=3, label=label)
  ax.axhline(base, color='gray', ls=':', label='unperturbed')
  ax.set_xlabel('weight noise SNR (dB)')
  ax.set_ylabel('PSNR of the output vs clean image (dB)')
  ax.grid(alpha=0.3)
  ax.legend(fontsize=7)
  ex.save_figure(fig, path)


def _plot_histograms(path, params):
  plt = ex.pyplot()
  layers = _layers(params)
  fig, axes = plt.subplots(1, len(layers), figsize=(2.2 * len(layers), 2.6),
                           dpi=110)
  for ax, (label, p) in zip(np.atleast_1d(axes), layers):
    w = np.asarray(_get(params, p)).ravel()
    mu, sd = float(w.mean()), float(w.std())
    ax.hist(w, bins=40, density=True, alpha=0.6, label='weights')
    t = np.linspace(w.min(), w.max(), 200)
    ax.plot(t, np.exp(-0.5 * ((t - mu) / sd) ** 2) / (sd * math.sqrt(2 *
                                                                     math.pi)),
            'r', lw=1, label=f'N({mu:.2f}, {sd:.2f}^2)')
    ax.set_title(label, fontsize=9)
    ax.set_xlabel('weight value')
    ax.legend(fontsize=6)
  np.atleast_1d(axes)[0].set_ylabel('density')
  ex.save_figure(fig, path)


if __name__ == '__main__':
  ex.launch(run, os.path.join(os.path.dirname(__file__), 'config.py') + ':cpu',
            'runs/appendix_b')
