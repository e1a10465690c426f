"""Every operator on a small image set: deep decoder vs classical baselines.

  python -m experiments.operators.run \
    --config=experiments/operators/config.py:cpu --workdir=runs/operators_cpu

Gray images (MRI and compressive sensing are gray here; one channel keeps the
CPU run short), resized to config.data.size; one vmapped fit per operator over
all images. Baselines: least squares by CG on the normal equations (damping
1e-3, 100 iterations; for MRI that is the zero-filled inverse FFT) for every
operator, and bicubic / Lanczos-3 upsampling for super-resolution.
`--config.only=0,3` runs only those CASES (indices below). Writes
results.json (rewritten as each case finishes) and results.md.
"""

import json
import os
import time

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from dd_jax.io import images as data_lib
from dd_jax import experiment as ex
from dd_jax.evaluation import baselines
from dd_jax.evaluation import metrics
from dd_jax import models
from dd_jax.errors import UserError
from dd_jax.fitting import engine
from dd_jax.io import inputs

# name, operator config (name and its nested sections), noise sigma (1/255)
CASES = (
    ('inpaint random 50%',
     dict(name='mask', mask=dict(kind='random', observed=0.5)), 0),
    ('inpaint text', dict(name='mask', mask=dict(kind='text')), 0),
    ('SR x4 lanczos2', dict(name='downsample', downsample=dict(factor=4)), 0),
    ('SR x4 bicubic',
     dict(name='downsample', downsample=dict(factor=4, kernel='bicubic')), 0),
    ('deblur gaussian 1.6', dict(name='blur', blur=dict(kind='gaussian')), 2),
    ('deblur motion 9', dict(name='blur', blur=dict(kind='motion', size=9)),
     2),
    ('blur+SR x2', dict(name='compose', compose=dict(ops='blur,downsample'),
                        downsample=dict(factor=2)), 0),
    ('CS gaussian n/m=4', dict(name='cs_gaussian', cs=dict(ratio=4.0)), 0),
    ('CS random conv n/m=4', dict(name='cs_conv', cs=dict(ratio=4.0)), 0),
    ('MRI 1 coil x4', dict(name='mri', mri=dict(mask='random', accel=4.0)), 0),
    ('MRI 8 coils x4', dict(name='mri_multicoil', mri=dict(
        mask='random', accel=4.0, coils='synthetic:8')), 0),
)


METHODS = ('deep decoder', 'least squares', 'bicubic', 'lanczos3')


def select_cases(only):
  """The CASES named by `only`: comma-separated indices ('' = all)."""
  items = [s.strip() for s in str(only).split(',') if s.strip()]
  if not items:
    return list(CASES)
  for item in items:
    if not item.isdigit() or int(item) >= len(CASES):
      known = '; '.join(f'{i} {c[0]}' for i, c in enumerate(CASES))
      raise UserError(f'Unknown case {item!r} in only={only!r}; give '
                      f'comma-separated indices: {known}.')
  return [CASES[int(i)] for i in items]


def load_images(config):
  """Image sources and the stacked clean images `[N, H, W, C]`, cropped to
  a multiple of the model's and the operators' (8) size factors."""
  mult = int(np.lcm(models.size_multiple(config.model), 8))
  _, clean = inputs.load_stack(config.data, mult)
  return data_lib.list_sources(config.data.images), clean


def sr_baselines(ys, shape):
  """Bicubic and Lanczos-3 upsampling of the measurements to `shape`."""
  out = {}
  for method in ('bicubic', 'lanczos3'):
    up = jax.vmap(lambda y, m=method: jax.image.resize(y, shape, m))(ys)
    out[method] = np.clip(np.asarray(up), 0, 1)
  return out


def run_case(name, fields, sigma, xs, cfg, seed=0):
  op_cfg = ml_collections.ConfigDict(dict(noise=dict(
      name='gaussian' if sigma else 'none', sigma=sigma / 255), **fields))
  c = ml_collections.ConfigDict(cfg.to_dict())
  c.operator, c.seed = op_cfg, seed
  shape = xs.shape[1:]
  n = xs.shape[0]
  res = engine.fit_images(c, clean=xs, verbose=False)
  op = res.groups[0]['operator']
  ys = jnp.asarray(np.stack([rec['y'] for rec in res]))
  auxs = jax.tree.map(lambda *a: jnp.asarray(np.stack(a)),
                      *[rec['aux'] for rec in res])
  outs = {'deep decoder': np.stack([rec['restored'] for rec in res])}
  outs['least squares'] = np.clip(np.asarray(jax.jit(jax.vmap(
      lambda y, a: baselines.least_squares(op, y, a)))(ys, auxs)), 0, 1)
  if fields['name'] == 'downsample':
    outs.update(sr_baselines(ys, shape))
  row = {'operator': name, 'seconds': res.seconds}
  for method, imgs in outs.items():
    row[method] = {
        'psnr': float(np.mean([metrics.psnr(imgs[i], xs[i])
                               for i in range(n)])),
        'ssim': float(np.mean([metrics.ssim(jnp.asarray(imgs[i]),
                                            jnp.asarray(xs[i]))
                               for i in range(n)]))}
  return row


def table(rows):
  out = ['| operator | ' + ' | '.join(METHODS) + ' |',
         '|---' * (1 + len(METHODS)) + '|']
  for r in rows:
    cells = [f'{r[m]["psnr"]:.2f} / {r[m]["ssim"]:.3f}' if m in r else '-'
             for m in METHODS]
    out.append(f'| {r["operator"]} | ' + ' | '.join(cells) + ' |')
  return '\n'.join(out)


def write_results(workdir, config, sources, rows):
  """results.json (same fields as results_cpu.json) and results.md."""
  text = table(rows)
  with open(os.path.join(workdir, 'results.json'), 'w') as f:
    json.dump({'preset': config.preset, 'images': sources,
               'size': config.data.size,
               'model': {'k': config.model.k, 'depth': config.model.depth,
                         'steps': config.fit.steps},
               'rows': rows, 'table': text}, f, indent=1)
  with open(os.path.join(workdir, 'results.md'), 'w') as f:
    f.write(text + '\n')


def run(config, workdir):
  ex.prepare(workdir, config)
  cases = select_cases(config.only)
  sources, xs = load_images(config)
  rows, t0 = [], time.time()
  for name, fields, sigma in cases:
    rows.append(run_case(name, fields, sigma, xs, config, seed=config.seed))
    print(f'[operators] {name}: {rows[-1]["deep decoder"]} '
          f'({time.time() - t0:.0f} s)', flush=True)
    write_results(workdir, config, sources, rows)
  print(table(rows))


if __name__ == '__main__':
  ex.launch(run, os.path.join(os.path.dirname(__file__), 'config.py') + ':cpu',
            'runs/operators')
