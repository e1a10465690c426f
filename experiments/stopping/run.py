"""How close do ground-truth-free stopping rules land to the best PSNR?

Denoising at sigma 15/25/50 (config.sigmas; noise clipped, as the reference)
on the test images of ../shared/images (scikit-image built-ins when absent).
Per image, one vmapped fit over the sigmas with the plain loss gives the PSNR
of the current iterate at every check, so the best PSNR along the fit, the
fixed budget and both discrepancy rules (sigma known, sigma from the MAD of
the Haar HH band) are read off one trajectory; a second fit holds out 5% of
the pixels for the validation rule. Stoppers only observe (halt=False) so the
whole trajectory is seen. dB lost = best PSNR along the plain fit - PSNR of
the iterate the rule returns. Writes results.json and results.md.

  python -m experiments.stopping.run \
    --config=experiments/stopping/config.py:cpu --workdir=runs/stopping_cpu
One image per process (each a few minutes on a busy 2-core CPU), merged:
  for i in astronaut sf4_rgb mri poster_rgb; do
    python -m experiments.stopping.run \
      --config=experiments/stopping/config.py:cpu \
      --config.data.images=../shared/images/$i.png --workdir=runs/stop_$i; done
  python -m experiments.stopping.run \
    --config=experiments/stopping/config.py:cpu \
    --config.merge=runs/stop_astronaut,runs/stop_sf4_rgb,runs/stop_mri,runs/stop_poster_rgb \
    --workdir=runs/stopping_cpu
"""

import json
import os
import time

import jax.numpy as jnp
import ml_collections
import numpy as np

from dd_jax.io import images as data_lib
from dd_jax import experiment as ex
from dd_jax.evaluation import metrics
from dd_jax import models
from dd_jax.inverse import operators
from dd_jax.fitting import engine
from dd_jax.fitting import keys
from dd_jax.fitting import stopping
from dd_jax.errors import UserError


def parse_sigmas(text):
  """'15,25,50' -> (15, 25, 50); positive numbers in 1/255."""
  try:
    sigmas = tuple(float(s) for s in str(text).split(',') if s.strip())
  except ValueError:
    sigmas = ()
  if not sigmas or not all(0 < s < np.inf for s in sigmas):
    raise UserError(f'sigmas={text!r}: give comma-separated positive noise '
                    'levels in 1/255, e.g. 15,25,50.')
  return tuple(int(s) if s == int(s) else s for s in sigmas)


def first_at_or_below(trace, threshold):
  """Index of the first check with residual <= threshold, or None."""
  for t, (_, res) in enumerate(trace):
    if res <= threshold:
      return t
  return None


def run_image(source, cfg, sigmas, seed=0):
  img = data_lib.load_image(source, cfg.data.channels)
  img = data_lib.fit_size(img, int(cfg.data.size),
                          models.size_multiple(cfg.model), source,
                          cfg.data.crop)
  n = len(sigmas)
  shape = img.shape
  op = operators.make_operator(ml_collections.ConfigDict({'name': 'identity'}),
                               shape)
  xs = np.stack([img] * n)
  root = keys.root_key(seed + 1)
  ys = jnp.stack([operators.measure(
      keys.noise_key(keys.image_key(root, i)), jnp.asarray(xs[i]), op, {},
      ml_collections.ConfigDict({'noise': {'name': 'gaussian',
                                           'sigma': s / 255}}))
                  for i, s in enumerate(sigmas)])
  c = ml_collections.ConfigDict(cfg.to_dict())
  c.seed = seed
  fit = dict(measurements=ys, clean=xs, operator=op, verbose=False,
             indices=[0] * n)  # the same init for every sigma
  rules = {}

  def discrepancy(op, ys, auxs, weights, key):
    ones = jnp.ones((n, *shape[:2], 1))
    rules['disc'] = stopping.Discrepancy(op.forward, ys, auxs, ones,
                                         [s / 255 for s in sigmas])
    rules['disc'].halt = False
    return rules['disc'], weights

  def validation(op, ys, auxs, weights, key):
    fit_cfg = ml_collections.ConfigDict({'stop': 'validation',
                                         'holdout': cfg.fit.holdout,
                                         'patience': cfg.fit.patience})
    rules['val'], train_w = stopping.make_stopper(fit_cfg, None, op, ys, auxs,
                                                  weights, key=key)
    rules['val'].halt = False
    return rules['val'], train_w

  plain = engine.fit_images(c, stopper=discrepancy, **fit)
  vfit = engine.fit_images(c, stopper=validation, **fit)
  disc, val = rules['disc'], rules['val']
  steps, _, _ = plain[0]['history']
  psnr_cur = np.array([rec['history'][2] for rec in plain]).T  # [T, n]

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
    rec['budget_best_iterate'] = (float(plain[i]['history'][1][-1]),
                                  steps[-1])
    for name, sig in (('discrepancy_known', s / 255),
                      ('discrepancy_mad', est)):
      t = first_at_or_below(trace_i, sig ** 2)
      rec[name] = ((float(psnr_cur[t, i]), steps[t]) if t is not None else
                   (float(psnr_cur[-1, i]), -1))  # never fired: budget
    v_img = vfit[i]['restored']
    rec['validation'] = (float(metrics.psnr(v_img, xs[i])),
                         int(val.best_step[i]))
    rec['validation_fit_best_psnr'] = float(np.max(vfit[i]['history'][2]))
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


def load_rows(path):
  """The rows of an earlier run's results.json (or of the workdir holding
  it)."""
  if os.path.isdir(path):
    path = os.path.join(path, 'results.json')
  if not os.path.isfile(path):
    raise UserError(f'merge: {path!r} not found; give results.json files (or '
                    'the workdirs holding them) of earlier stopping runs.')
  try:
    with open(path) as f:
      return json.load(f)['rows']
  except (ValueError, KeyError, TypeError):
    raise UserError(f'merge: {path!r} is not a stopping results.json '
                    '(no "rows").') from None


def write_results(workdir, rows, **extra):
  """results.json (rows, table, `extra`) and results.md; prints the table."""
  text = table(rows)
  print(text)
  with open(os.path.join(workdir, 'results.json'), 'w') as f:
    json.dump({**extra, 'rows': rows, 'table': text}, f, indent=1)
  with open(os.path.join(workdir, 'results.md'), 'w') as f:
    f.write(text + '\n')


def merge(config, workdir):
  """One table from the rows of earlier runs (config.merge); no fitting."""
  files = [s.strip() for s in config.merge.split(',') if s.strip()]
  rows = sum((load_rows(f) for f in files), [])
  if not rows:
    raise UserError(f'merge={config.merge!r}: the files hold no rows.')
  write_results(workdir, rows, merged=files)


def fit_all(config, workdir):
  """Fits every image of config.data.images at every sigma."""
  sigmas = parse_sigmas(config.sigmas)
  sources = data_lib.list_sources(config.data.images)
  rows, t0 = [], time.time()
  for src in sources:
    rows += run_image(src, config, sigmas, seed=config.seed)
    print(f'[stopping] {src} done, {time.time() - t0:.0f} s', flush=True)
  settings = [config.data.size, config.model.k, config.model.depth,
              config.fit.steps, config.fit.log_every]
  write_results(workdir, rows, preset=config.preset, config=settings,
                seconds=time.time() - t0)


def run(config, workdir):
  ex.prepare(workdir, config)
  if config.merge:
    merge(config, workdir)
  else:
    fit_all(config, workdir)


if __name__ == '__main__':
  ex.launch(run, os.path.join(os.path.dirname(__file__), 'config.py') + ':cpu',
            'runs/stopping')
