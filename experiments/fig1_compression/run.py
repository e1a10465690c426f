"""Figure 1: deep decoder vs wavelet thresholding at equal parameter counts.

  python -m experiments.fig1_compression.run \
    --config=experiments/fig1_compression/config.py:cpu --workdir=runs/fig1_cpu

Writes fig1.csv/.md (per image and k: parameters, compression factor, PSNR of
the deep decoder and of each wavelet coder keeping as many coefficients),
fig1_scatter.png (wavelet PSNR vs deep-decoder PSNR, like the paper's) and
the representations as PNGs.
"""

import os

import numpy as np

from dd_jax.evaluation import baselines
from dd_jax.io import images as data_lib
from dd_jax import experiment as ex
from dd_jax.fitting import engine
from dd_jax.io import inputs
from dd_jax.io import progress
from dd_jax.io import tables
from dd_jax import models
from dd_jax.errors import UserError


# REFERENCE.md section 3 (512x512, the authors' code): (image, k) -> PSNRs.
REFERENCE = {('sf4_rgb', 64): dict(dd=24.90, haar=23.70),
             ('sf4_rgb', 128): dict(dd=28.75, haar=29.66),
             ('mri', 32): dict(dd=30.26, haar=27.83)}


def run(config, workdir):
  ex.prepare(workdir, config)
  names, clean = inputs.load_images(config.data, models.size_multiple(config.model))
  bar = progress.Progress(len(names) * config.fit.steps * len(config.ks), 'fig1')
  rows = []
  for k in config.ks:
    config.model.k = int(k)
    recs = engine.fit_images(config, clean=clean, names=names, progress=bar,
                             verbose=False)
    for rec in recs:
      x = rec['clean']
      n = rec['model'].num_params()
      r = dict(image=rec['name'], k=int(k), channels=x.shape[2], params=n,
               factor=x.size / n, **{'DD PSNR': rec['psnr']})
      data_lib.save_png(os.path.join(workdir, f'{rec["name"]}_k{k}_dd.png'),
                        rec['restored'])
      for w in config.wavelets:
        try:
          out = baselines.get(baselines.WAVELET_CODERS, w, 'wavelet coder')(
              x, n)
        except UserError as e:  # Budget below the coarse band (tiny images).
          print(f'[fig1] {rec["name"]} k={k} {w}: {e}', flush=True)
          continue
        r[f'{w} PSNR'] = engine.psnr(out, x)
        data_lib.save_png(os.path.join(workdir, f'{rec["name"]}_k{k}_{w}.png'),
                          out)
      for key, v in REFERENCE.get((rec['name'], int(k)), {}).items():
        r[f'reference {key}'] = v
      rows.append(r)
  bar.close()
  cols = ['image', 'k', 'channels', 'params', 'factor', 'DD PSNR'] + [
      f'{w} PSNR' for w in config.wavelets] + ['reference dd', 'reference haar']
  tables.write_table(rows, workdir, 'fig1', cols,
                     title='Representation PSNR (dB) at equal parameter counts',
                     notes='factor = pixels x channels / parameters. Wavelet '
                     'coders keep as many coefficients as the decoder has '
                     'parameters. haar_reference: the paper\'s baseline (per '
                     'channel n/C, YCbCr, approximation always kept); '
                     'bior4.4_ycbcr / haar_keep_n: the n largest coefficients '
                     'over all channels. Reference numbers are 512x512.')
  _scatter(os.path.join(workdir, 'fig1_scatter.png'), rows, config)


def _scatter(path, rows, config):
  plt = ex.pyplot()
  fig, ax = plt.subplots(figsize=(5, 5), dpi=110)
  marks = dict(zip(config.ks, ('o', 's', '^', 'D')))
  colors = dict(zip(config.wavelets, ('C0', 'C1', 'C2', 'C3')))
  for w in config.wavelets:
    for k in config.ks:
      rs = [r for r in rows if r['k'] == k and f'{w} PSNR' in r]
      if not rs:
        continue
      fac = np.mean([r['factor'] for r in rs])
      ax.scatter([r['DD PSNR'] for r in rs], [r[f'{w} PSNR'] for r in rs],
                 marker=marks[k], color=colors[w],
                 label=f'{w}, k={k} (factor ~{fac:.0f})')
  vals = [r[c] for r in rows for c in r if c.endswith('PSNR')]
  lo, hi = min(vals) - 1, max(vals) + 1
  ax.plot([lo, hi], [lo, hi], 'k--', lw=0.8, label='equal PSNR')
  ax.set_xlim(lo, hi)
  ax.set_ylim(lo, hi)
  ax.set_xlabel('deep decoder PSNR (dB)')
  ax.set_ylabel('wavelet thresholding PSNR (dB)')
  ax.set_title('Representation at equal parameter counts\n(below the '
               'diagonal: deep decoder better)', fontsize=9)
  ax.legend(fontsize=6)
  ax.grid(alpha=0.3)
  ex.save_figure(fig, path)


if __name__ == '__main__':
  ex.launch(run, os.path.join(os.path.dirname(__file__), 'config.py') + ':cpu',
            'runs/fig1')
