"""How close do ground-truth-free stopping rules land to the best PSNR?

Denoising at sigma 15/25/50 (noise clipped, as the reference) on the test
images of ../shared/images (scikit-image built-ins when absent). Per image,
one vmapped fit over the three sigmas with the plain loss gives the PSNR of
the current iterate at every check, so the best PSNR along the fit, the fixed
budget and both discrepancy rules (sigma known, sigma from the MAD of the
Haar HH band) are read off one trajectory; a second fit holds out 5% of the
pixels for the validation rule. Stoppers only observe (halt=False) so the
whole trajectory is seen. dB lost = best PSNR along the plain fit - PSNR of
the iterate the rule returns.

  PYTHONPATH=$PWD python experiments/stopping/run.py --preset=cpu \
      --out=experiments/stopping/results_cpu.json
One image per process (each a few minutes on a busy 2-core CPU), merged:
  for i in astronaut sf4_rgb mri poster_rgb; do
    PYTHONPATH=$PWD python experiments/stopping/run.py --preset=cpu \
      --images=../shared/images/$i.png --out=/tmp/stop_$i.json; done
  PYTHONPATH=$PWD python experiments/stopping/run.py \
      --merge=/tmp/stop_astronaut.json,... --out=experiments/stopping/results_cpu.json
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
from dd_jax import stopping

_REPO = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
# ../shared next to the repo (or next to the worktree folder).
SHARED = next((p for p in (os.path.join(_REPO, '..', 'shared', 'images'),
                           os.path.join(_REPO, '..', '..', 'shared', 'images'))
               if os.path.isdir(p)), '')
SHARED_NAMES = ('astronaut.png', 'sf4_rgb.png', 'mri.png', 'poster_rgb.png')
BUILTINS = ('astronaut', 'camera', 'coffee', 'chelsea')
SIGMAS = (15, 25, 50)
PRESETS = {  # size, k, depth, steps, check every
    'cpu': (128, 32, 5, 400, 10),
    'test': (32, 8, 3, 30, 5),
}


def image_sources():
  shared = [os.path.join(SHARED, n) for n in SHARED_NAMES
            if os.path.isfile(os.path.join(SHARED, n))]
  if shared:
    return shared
  print('[stopping] ../shared/images absent: using scikit-image images.')
  return list(BUILTINS)


def config(size, k, depth, steps, every):
  c = common.base_config('cpu')
  c.data.size, c.model.k, c.model.depth = size, k, depth
  c.fit.steps, c.fit.log_every = steps, every
  return c


def first_at_or_below(trace, threshold):
  """Index of the first check with residual <= threshold, or None."""
  for t, (_, res) in enumerate(trace):
    if res <= threshold:
      return t
  return None


def run_image(source, cfg, sigmas, seed=0):
  img = data_lib.load_image(source)
  img = data_lib.fit_size(img, cfg.data.size, 2 ** (cfg.model.depth - 1),
                          source)
  n = len(sigmas)
  shape = img.shape
  op = operators.make_operator(ml_collections.ConfigDict({'name': 'identity'}),
                               shape)
  spec = models.DecoderSpec.from_config(cfg.model, shape)
  keys = jnp.stack([jax.random.key(seed)] * n)  # same init for every sigma
  xs = jnp.asarray(np.stack([img] * n))
  ys = jnp.stack([operators.measure(
      jax.random.fold_in(jax.random.key(seed + 1), i), xs[i], op, {},
      ml_collections.ConfigDict({'noise': 'gaussian', 'sigma': s / 255}))
                  for i, s in enumerate(sigmas)])
  auxs = {}
  ones = jnp.ones((n, *shape[:2], 1))
  disc = stopping.Discrepancy(op.forward, ys, auxs, ones,
                              [s / 255 for s in sigmas])
  disc.halt = False
  plain = fit_lib.fit(keys, spec, op.forward, ys, auxs, optim_cfg=cfg.optim,
                      fit_cfg=cfg.fit, clean=xs, stopper=disc, verbose=False)
  psnr_cur = np.array([h['psnr_current'] for h in plain.history])  # [T, n]
  steps = [h['step'] for h in plain.history]

  fit_cfg = ml_collections.ConfigDict({'stop': 'validation', 'holdout': 0.05,
                                       'patience': 5})
  val, train_w = stopping.make_stopper(fit_cfg, None, op, ys, auxs, None,
                                       key=jax.random.key(seed + 2))
  val.halt = False
  vfit = fit_lib.fit(keys, spec, op.forward, ys, auxs, optim_cfg=cfg.optim,
                     fit_cfg=cfg.fit, clean=xs, stopper=val, weights=train_w,
                     verbose=False)

  rows = []
  for i, s in enumerate(sigmas):
    best_t = int(np.argmax(psnr_cur[:, i]))
    best = float(psnr_cur[best_t, i])
    est = stopping.estimate_sigma(np.asarray(ys[i]))
    trace_i = [(st, r[i]) for st, r in disc.trace]
    rec = {'image': os.path.basename(source), 'sigma': s,
           'noisy_psnr': float(metrics.psnr(ys[i], xs[i])),
           'best_psnr': best, 'best_step': steps[best_t],
           'sigma_mad': est * 255}
    rec['budget'] = (float(psnr_cur[-1, i]), steps[-1])
    rec['budget_best_iterate'] = (float(plain.history[-1]['psnr'][i]),
                                  steps[-1])
    for name, sig in (('discrepancy_known', s / 255),
                      ('discrepancy_mad', est)):
      t = first_at_or_below(trace_i, sig ** 2)
      rec[name] = ((float(psnr_cur[t, i]), steps[t]) if t is not None else
                   (float(psnr_cur[-1, i]), -1))  # never fired: budget
    v_img = vfit.restored[i]
    rec['validation'] = (float(metrics.psnr(v_img, xs[i])),
                         int(val.best_step[i]))
    rec['validation_fit_best_psnr'] = float(
        np.max([h['psnr_current'][i] for h in vfit.history]))
    rec['final_residual_over_sigma2'] = float(trace_i[-1][1] / (s / 255) ** 2)
    rows.append(rec)
  return rows


RULES = ('budget', 'budget_best_iterate', 'discrepancy_known',
         'discrepancy_mad', 'validation')


def table(rows):
  out = ['| image | sigma | noisy | best (step) | ' +
         ' | '.join(RULES) + ' |', '|---' * (4 + len(RULES)) + '|']
  for r in rows:
    cells = []
    for rule in RULES:
      p, st = r[rule]
      cells.append(f'{r["best_psnr"] - p:.2f} ({st if st >= 0 else "never"})')
    out.append(f'| {r["image"]} | {r["sigma"]} | {r["noisy_psnr"]:.2f} | '
               f'{r["best_psnr"]:.2f} ({r["best_step"]}) | ' +
               ' | '.join(cells) + ' |')
  means = [np.mean([r['best_psnr'] - r[rule][0] for r in rows])
           for rule in RULES]
  out.append('| mean dB lost | | | | ' +
             ' | '.join(f'{m:.2f}' for m in means) + ' |')
  return '\n'.join(out)


def main():
  p = argparse.ArgumentParser()
  p.add_argument('--preset', default='cpu', choices=sorted(PRESETS))
  p.add_argument('--out', default='')
  p.add_argument('--images', default='', help='comma-separated sources')
  p.add_argument('--merge', default='', help='comma-separated result files '
                 'to merge into one table (no fitting)')
  args = p.parse_args()
  if args.merge:
    rows = sum((json.load(open(f))['rows'] for f in args.merge.split(',')), [])
    text = table(rows)
    print(text)
    if args.out:
      with open(args.out, 'w') as f:
        json.dump({'rows': rows, 'table': text}, f, indent=1)
    return
  cfg = config(*PRESETS[args.preset])
  sources = args.images.split(',') if args.images else image_sources()
  rows, t0 = [], time.time()
  for src in sources:
    rows += run_image(src, cfg, SIGMAS)
    print(f'[stopping] {src} done, {time.time() - t0:.0f} s', flush=True)
  text = table(rows)
  print(text)
  if args.out:
    with open(args.out, 'w') as f:
      json.dump({'preset': args.preset, 'config': PRESETS[args.preset],
                 'rows': rows, 'table': text, 'seconds': time.time() - t0},
                f, indent=1)


if __name__ == '__main__':
  main()
