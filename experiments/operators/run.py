"""Every operator on a small image set: deep decoder vs classical baselines.

Gray images (MRI and compressive sensing are gray here; one channel keeps the
CPU run short), resized to --size; one vmapped fit per operator over all
images. Baselines: least squares by CG on the normal equations (damping 1e-3,
100 iterations; for MRI that is the zero-filled inverse FFT) for every
operator, and bicubic / Lanczos-3 upsampling for super-resolution.
Rows are appended to --out as they finish.

  PYTHONPATH=$PWD python experiments/operators/run.py --preset=cpu \
      --out=experiments/operators/results_cpu.json
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
from dd_jax import operators

_REPO = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
SHARED = next((p for p in (os.path.join(_REPO, '..', 'shared', 'images'),
                           os.path.join(_REPO, '..', '..', 'shared', 'images'))
               if os.path.isdir(p)), '')

# name, operator fields, noise sigma (1/255)
CASES = (
    ('inpaint random 50%', dict(name='mask', mask='random', observed=0.5), 0),
    ('inpaint text', dict(name='mask', mask='text'), 0),
    ('SR x4 lanczos2', dict(name='downsample', factor=4), 0),
    ('SR x4 bicubic', dict(name='downsample', factor=4, sr_kernel='bicubic'),
     0),
    ('deblur gaussian 1.6', dict(name='blur', blur='gaussian'), 2),
    ('deblur motion 9', dict(name='blur', blur='motion', blur_size=9), 2),
    ('blur+SR x2', dict(name='compose', ops='blur,downsample', factor=2), 0),
    ('CS gaussian n/m=4', dict(name='cs_gaussian', ratio=4.0), 0),
    ('CS random conv n/m=4', dict(name='cs_conv', ratio=4.0), 0),
    ('MRI 1 coil x4', dict(name='mri', mri_mask='random', accel=4.0), 0),
    ('MRI 8 coils x4', dict(name='mri_multicoil', mri_mask='random',
                            accel=4.0, coils='synthetic:8'), 0),
)
PRESETS = {'cpu': (64, 32, 4, 400), 'test': (32, 8, 3, 10)}


def images(size):
  names = [os.path.join(SHARED, n) for n in ('mri.png', 'astronaut.png')
           if SHARED and os.path.isfile(os.path.join(SHARED, n))]
  names = names or ['camera', 'astronaut']
  return names, np.stack([data_lib.fit_size(
      data_lib.load_image(n, 'gray'), size, 8, n) for n in names])


def sr_baselines(op_cfg, ys, shape):
  f = int(op_cfg['factor'])
  out = {}
  for method in ('bicubic', 'lanczos3'):
    out[method] = np.clip(np.asarray(jax.vmap(lambda y: jax.image.resize(
        y, shape, method))(ys)), 0, 1)
  del f
  return out


def run_case(name, fields, sigma, xs, cfg, seed=0):
  op_cfg = ml_collections.ConfigDict(dict(
      noise='gaussian' if sigma else 'none', sigma=sigma / 255, **fields))
  shape = xs.shape[1:]
  op = operators.make_operator(op_cfg, shape)
  n = xs.shape[0]
  keys = jnp.stack([jax.random.fold_in(jax.random.key(seed), i)
                    for i in range(n)])
  auxs = jax.vmap(op.make_aux, in_axes=(0, None))(
      jax.vmap(lambda k: jax.random.fold_in(k, 1))(keys), 0)
  ys = jax.vmap(lambda k, x, a: operators.measure(k, x, op, a, op_cfg))(
      jax.vmap(lambda k: jax.random.fold_in(k, 2))(keys), jnp.asarray(xs),
      auxs)
  weights = (None if op.weight is None else
             jax.vmap(op.weight, axis_size=n)(auxs))
  spec = models.DecoderSpec.from_config(cfg.model, shape)
  res = fit_lib.fit(keys, spec, op.forward, ys, auxs, optim_cfg=cfg.optim,
                    fit_cfg=cfg.fit, clean=jnp.asarray(xs), weights=weights,
                    verbose=False)
  outs = {'deep decoder': res.restored}
  outs['least squares'] = np.clip(np.asarray(jax.jit(jax.vmap(
      lambda y, a: operators.least_squares(op, y, a)))(ys, auxs)), 0, 1)
  if fields['name'] == 'downsample':
    outs.update(sr_baselines(fields, ys, shape))
  row = {'operator': name, 'seconds': res.seconds}
  for method, imgs in outs.items():
    row[method] = {
        'psnr': float(np.mean([metrics.psnr(imgs[i], xs[i])
                               for i in range(n)])),
        'ssim': float(np.mean([metrics.ssim(jnp.asarray(imgs[i]),
                                            jnp.asarray(xs[i]))
                               for i in range(n)]))}
  return row


METHODS = ('deep decoder', 'least squares', 'bicubic', 'lanczos3')


def table(rows):
  out = ['| operator | ' + ' | '.join(METHODS) + ' |',
         '|---' * (1 + len(METHODS)) + '|']
  for r in rows:
    cells = [f'{r[m]["psnr"]:.2f} / {r[m]["ssim"]:.3f}' if m in r else '-'
             for m in METHODS]
    out.append(f'| {r["operator"]} | ' + ' | '.join(cells) + ' |')
  return '\n'.join(out)


def main():
  p = argparse.ArgumentParser()
  p.add_argument('--preset', default='cpu', choices=sorted(PRESETS))
  p.add_argument('--out', default='')
  p.add_argument('--only', default='', help='comma-separated case indices')
  args = p.parse_args()
  size, k, depth, steps = PRESETS[args.preset]
  cfg = common.base_config('cpu')
  cfg.model.k, cfg.model.depth = k, depth
  cfg.fit.steps = cfg.fit.log_every = steps
  names, xs = images(size)
  cases = [CASES[int(i)] for i in args.only.split(',')] if args.only else CASES
  rows, t0 = [], time.time()
  for name, fields, sigma in cases:
    rows.append(run_case(name, fields, sigma, xs, cfg))
    print(f'[operators] {name}: {rows[-1]["deep decoder"]} '
          f'({time.time() - t0:.0f} s)', flush=True)
    if args.out:
      with open(args.out, 'w') as f:
        json.dump({'preset': args.preset, 'images': names, 'size': size,
                   'model': {'k': k, 'depth': depth, 'steps': steps},
                   'rows': rows, 'table': table(rows)}, f, indent=1)
  print(table(rows))


if __name__ == '__main__':
  main()
