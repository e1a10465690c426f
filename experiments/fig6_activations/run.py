"""Figure 6: how a fitted deep decoder builds the phantom layer by layer.

  python -m experiments.fig6_activations.run \
    --config=experiments/fig6_activations/config.py:cpu --workdir=runs/fig6_cpu

Writes fig6.png (the fit, then one row per layer: the input B0 and each
hidden layer's output B_{i+1} for the first `channels_shown` channels),
fig6.csv/.md (PSNR of the fit) and fig6_fit.png.
"""

import os

import jax.numpy as jnp
import numpy as np

from dd_jax.io import images as data_lib
from dd_jax import experiment as ex
from dd_jax.fitting import engine
from dd_jax.io import inputs
from dd_jax.io import progress
from dd_jax.io import tables
from dd_jax import models


def run(config, workdir):
  ex.prepare(workdir, config)
  if config.data.images == 'shepp_logan':
    import skimage.data
    from skimage.transform import resize
    img = resize(skimage.data.shepp_logan_phantom(), (config.data.size,) * 2,
                 anti_aliasing=True)
    names, clean = ['shepp_logan'], [np.clip(img, 0, 1).astype(np.float32)[..., None]]
  else:
    names, clean = inputs.load_images(config.data,
                                      models.size_multiple(config.model))
  bar = progress.Progress(config.fit.steps, 'fig6')
  rec = engine.fit_images(config, clean=clean, names=names, progress=bar,
                          verbose=False)[0]
  bar.close()
  spec = rec['model']
  params = {k: v for k, v in rec['best_params'].items()}
  z = jnp.asarray(rec['input'])
  feats = [np.asarray(z)] + [np.asarray(f) for f in spec.apply(
      {'params': params}, z, method=models.DeepDecoder.features)]
  data_lib.save_png(os.path.join(workdir, 'fig6_fit.png'), rec['restored'])
  tables.write_table([dict(image=names[0], size=f'{clean[0].shape[0]}',
                           model=spec.describe(), steps=config.fit.steps,
                           PSNR=rec['psnr'], **{'reference PSNR (256, 10000 '
                                                'steps)': 52.22})],
                     workdir, 'fig6', title='Phantom fit')
  _plot(os.path.join(workdir, 'fig6.png'), rec, feats, config.channels_shown)


def _plot(path, rec, feats, shown):
  plt = ex.pyplot()
  shown = min(shown, min(f.shape[-1] for f in feats))
  rows = len(feats)
  fig = plt.figure(figsize=(1.3 * (shown + 3), 1.3 * rows), dpi=110)
  grid = fig.add_gridspec(rows, shown + 3)
  ax = fig.add_subplot(grid[:, :3])
  ax.imshow(rec['restored'][..., 0], cmap='gray', vmin=0, vmax=1)
  ax.set_title(f'fit, {rec["psnr"]:.1f} dB', fontsize=9)
  ax.axis('off')
  for i, f in enumerate(feats):
    for j in range(shown):
      a = fig.add_subplot(grid[i, 3 + j])
      a.imshow(f[..., j], cmap='viridis')
      a.set_xticks([])
      a.set_yticks([])
      if j == 0:
        a.set_ylabel('input' if i == 0 else f'layer {i}\n{f.shape[0]}x'
                     f'{f.shape[1]}', fontsize=7)
      if i == 0:
        a.set_title(f'ch {j}', fontsize=7)
  fig.suptitle('Activation maps: network input, then each hidden layer\'s '
               'output (channels 0..%d; colour scale per panel)' % (shown - 1),
               fontsize=9)
  fig.savefig(path)
  plt.close(fig)


if __name__ == '__main__':
  ex.launch(run, os.path.join(os.path.dirname(__file__), 'config.py') + ':cpu',
            'runs/fig6')
