"""Learned initialization: meta-learn an init (Reptile), then fit held-out and
unlike images from it and from the random init.

  python -m experiments.learned_init.run \
    --config=experiments/learned_init/config.py:cpu \
    --workdir=runs/learned_init_cpu

Writes init/ (the learned init: `--config.model.init_from=<workdir>/init`),
meta_training.csv/.md/.png (the outer loop's record), summary.csv/.md (per
image: final PSNR from each init, steps and wall time to the protocol's
PSNR), psnr_at_steps.csv/.md, psnr_vs_step.png, outputs.png (the learned
init's output before any fitting, the noisy image and both results) and
results.json. An interrupted run resumes (`--config.output.resume=True`):
the meta-learning from its last snapshot, then the fits call by call.
"""

import os
import time

from absl import logging
import jax
import ml_collections
import numpy as np

from dd_jax import configurable
from dd_jax import experiment as ex
from dd_jax import models
from dd_jax.errors import UserError
from dd_jax.fitting import checkpoint as ckpt_lib
from dd_jax.fitting import engine
from dd_jax.fitting import keys as keys_lib
from dd_jax.fitting import meta
from dd_jax.inverse import operators
from dd_jax.io import images as images_lib
from dd_jax.io import inputs
from dd_jax.io import progress
from dd_jax.io import tables
from dd_jax.io import writers

INITS = ('random', 'learned')
RUN_KEYS = ('seed', 'model', 'operator', 'optim', 'fit', 'data', 'mesh',
            'output')


def run_config(config, init_from: str = '') -> ml_collections.ConfigDict:
  """The evaluation fits' run config (model.init_from = init_from)."""
  c = ml_collections.ConfigDict({k: config[k] for k in RUN_KEYS})
  c = ml_collections.ConfigDict(c.to_dict())
  c.model.init_from = init_from
  return c


def report_steps(config) -> list[int]:
  steps, every = int(config.fit.steps), int(config.fit.log_every)
  out = [int(s) for s in config.eval.report_steps]
  bad = [s for s in out if s < 1 or s > steps or s % every]
  if bad:
    raise UserError(f'eval.report_steps {bad} must be multiples of '
                    f'fit.log_every={every} in [1, fit.steps={steps}].')
  return out


def training_images(config) -> list[np.ndarray]:
  """The train.images, RGB (or data.channels), each resized so its short
  side is train.scale * data.size."""
  names = [s.strip() for s in str(config.train.images).split(',')
           if s.strip()]
  evaluated = set(_names(config.data.images)) | set(_names(config.bias.images))
  if not names:
    raise UserError('train.images is empty; name the training images.')
  if set(names) & evaluated:
    raise UserError(f'train.images and the evaluated images (data.images, '
                    f'bias.images) share {sorted(set(names) & evaluated)}; '
                    'evaluate on images not used for training.')
  side = int(round(float(config.train.scale) * int(config.data.size)))
  if side < int(config.data.size):
    raise UserError(f'train.scale must be >= 1 (crops of data.size from '
                    f'images of short side scale * data.size), got '
                    f'{config.train.scale}.')
  out = []
  for name in names:
    x = images_lib.load_image(name, str(config.data.channels))
    h, w = x.shape[:2]
    f = side / min(h, w)
    out.append(images_lib.resize(x, (max(side, round(h * f)),
                                     max(side, round(w * f)))))
  return out


def _names(spec) -> list[str]:
  return [s.strip() for s in str(spec).split(',') if s.strip()]


def train(config, shape, images, opts, path, bar, checkpoint):
  """Meta-learns the init for images `shape` and saves it at `path`."""
  cfg = run_config(config)
  model = models.make_model(cfg.model, shape)
  op = operators.make_operator(cfg.operator, shape)
  sample = meta.crop_sampler(images, shape[0], int(opts.batch),
                             seed=int(config.seed),
                             flips=bool(config.train.flips))
  key = jax.random.fold_in(keys_lib.root_key(int(config.seed)), 7919)
  res = meta.learn(model, op, sample, operator_cfg=cfg.operator,
                   optim_cfg=cfg.optim, fit_cfg=cfg.fit, opts=opts, key=key,
                   checkpoint=checkpoint, progress=bar)
  info = dict(image_shape=list(shape), train_images=_names(
      config.train.images), train_scale=float(config.train.scale),
              meta=configurable.as_dict(config.train.meta),
              seconds=res.seconds, history=res.history)
  models.save_init(path, res.params, res.z, model_cfg=cfg.model, info=info)
  return info


def run(config, workdir):
  t0 = time.time()
  steps_at = report_steps(config)
  opts = configurable.build(meta.MetaOptions, config.train.meta,
                            'train.meta').check('train.meta')
  given = str(config.init_from)
  cfg = run_config(config)
  mult = inputs.size_multiple(cfg)
  names, clean = inputs.load_images(config.data, mult)
  bias_cfg = ml_collections.ConfigDict(config.data.to_dict())
  bias_cfg.images = config.bias.images
  bias_names, bias_clean = (inputs.load_images(bias_cfg, mult)
                            if _names(config.bias.images) else ([], []))
  xs = [np.asarray(x, np.float32) for x in list(clean) + list(bias_clean)]
  if len({x.shape for x in xs}) > 1:
    raise UserError('The evaluated images differ in size; set data.size > 0 '
                    'so they are resized to one size.')
  shape = xs[0].shape
  kinds = ['held-out'] * len(names) + ['unlike'] * len(bias_names)
  runs = [cfg] + ([run_config(config, given)] if given else [])
  train_images = [] if given else training_images(config)
  ex.prepare(workdir, config, runs=runs)  # Everything checked first.

  path = given or os.path.join(workdir, 'init')
  session = ckpt_lib.current()
  meta_ckpt = session.next().group(0) if session is not None else None
  bar = progress.Progress(
      (0 if given or os.path.isdir(path) else
       int(opts.outer_steps) * int(opts.batch) * int(opts.inner_steps)) +
      len(INITS) * int(config.fit.steps) * len(xs), 'learned_init')
  if given:
    info = models.load_init(given).meta.get('info', {})
  elif os.path.isdir(path):  # A resumed run that had finished training.
    info = models.load_init(path).meta['info']
  else:
    info = train(config, shape, train_images, opts, path, bar, meta_ckpt)
  write_meta_history(info.get('history', []), workdir)

  all_names = list(names) + list(bias_names)
  fits = {}
  for init in INITS:
    c = run_config(config, path if init == 'learned' else '')
    res = engine.fit_images(c, clean=xs, names=all_names, progress=bar,
                            verbose=False)
    fits[init] = res
  bar.close()
  results = summarize(fits, all_names, kinds, steps_at,
                      float(config.eval.tolerance_db))
  results.update(init=path, meta=info, shape=list(shape))
  write_tables(results, workdir)
  plot_curves(results, os.path.join(workdir, 'psnr_vs_step.png'))
  model = models.make_model(run_config(config, path).model, shape)
  prior = np.asarray(model.apply(model.init(None, None), model.init_input(
      jax.random.key(0))))
  plot_outputs(results, fits, prior, os.path.join(workdir, 'outputs.png'))
  results['seconds'] = time.time() - t0
  writers.write_json(os.path.join(workdir, 'results.json'), results)
  logging.info('[learned_init] wrote %s in %.0f s', workdir,
               results['seconds'])
  return results


def first_step(steps, values, level: float):
  """The first logged step with value >= level (None: never)."""
  hit = np.flatnonzero(np.asarray(values) >= level)
  return int(steps[hit[0]]) if hit.size else None


def summarize(fits, names, kinds, steps_at, tol) -> dict:
  """Per image and init: the PSNR curve (best iterate and current), the
  final PSNR, the PSNR at `steps_at`, and the steps and seconds to the
  random init's final PSNR minus `tol`."""
  out = dict(images=[], report_steps=steps_at, tolerance_db=tol)
  sec_per_step = {k: r.groups[0]['seconds'] / max(r.groups[0]['steps_run'], 1)
                  for k, r in fits.items()}
  for i, (name, kind) in enumerate(zip(names, kinds)):
    target = fits['random'][i]['psnr'] - tol
    row = dict(name=name, kind=kind, target=target,
               psnr_noisy=fits['random'][i]['psnr_corrupted'])
    for init, res in fits.items():
      steps, best, current = res[i]['history']
      at = dict(zip(steps, best))
      reach = first_step(steps, best, target)
      row[init] = dict(
          final=res[i]['psnr'], ssim=res[i]['ssim'], steps=list(steps),
          psnr_best=list(best), psnr_current=list(current),
          at={str(s): at[s] for s in steps_at}, steps_to_target=reach,
          seconds_to_target=(None if reach is None
                             else reach * sec_per_step[init]),
          seconds_per_step=sec_per_step[init])
    out['images'].append(row)
  return out


def write_tables(results, workdir):
  rows, at_rows = [], []
  for r in results['images']:
    rnd, lrn = r['random'], r['learned']
    speed = (rnd['steps_to_target'] / lrn['steps_to_target']
             if rnd['steps_to_target'] and lrn['steps_to_target'] else None)
    rows.append({
        'image': r['name'], 'kind': r['kind'],
        'noisy PSNR': r['psnr_noisy'],
        'random final': rnd['final'], 'learned final': lrn['final'],
        'learned - random': lrn['final'] - rnd['final'],
        'target': r['target'],
        'steps random': rnd['steps_to_target'],
        'steps learned': _or_never(lrn['steps_to_target']),
        'speed-up': speed,
        's random': rnd['seconds_to_target'],
        's learned': lrn['seconds_to_target']})
    for init in INITS:
      at_rows.append({'image': r['name'], 'kind': r['kind'], 'init': init,
                      **{f'PSNR@{s}': r[init]['at'][str(s)]
                         for s in results['report_steps']}})
  per_image = list(rows)
  for kind in ('held-out', 'unlike'):
    sel = [x for x in per_image if x['kind'] == kind]
    if sel:
      rows.append(tables.mean_row(sel, 'image', f'mean ({kind})', [
          'noisy PSNR', 'random final', 'learned final', 'learned - random',
          'steps random', 'speed-up', 's random', 's learned']))
  tol = results['tolerance_db']
  tables.write_table(
      rows, workdir, 'summary',
      title='Learned vs random init: final PSNR (dB) and the steps / seconds '
      'to the protocol PSNR',
      notes=f'target: the random init\'s final PSNR (best iterate after '
      f'fit.steps) minus {tol} dB; steps: the first log step whose '
      'best-iterate PSNR reaches it (never: not within fit.steps); seconds: '
      'steps x the wall time per step of that init\'s batched call (all '
      'images together, compile excluded).')
  tables.write_table(at_rows, workdir, 'psnr_at_steps',
                     title='PSNR (dB, best iterate) after N steps')


def _or_never(v):
  return 'never' if v is None else v


def write_meta_history(history, workdir):
  if not history:
    return
  tables.write_table(history, workdir, 'meta_training',
                     title='Meta-training (Reptile): mean over each log '
                     'interval of the training crops')
  plt = ex.pyplot()
  fig, ax = plt.subplots(figsize=(6, 3.5))
  steps = [h['step'] for h in history]
  ax.plot(steps, [h['psnr'] for h in history])
  ax.set_xlabel('outer step')
  ax.set_ylabel('PSNR after the inner fit (dB)')
  ax.set_title('meta-training: fitted PSNR of the training crops')
  ax.grid(alpha=0.3)
  ex.save_figure(fig, os.path.join(workdir, 'meta_training.png'), dpi=120)


def plot_curves(results, path):
  plt = ex.pyplot()
  rows = results['images']
  fig, axes = plt.subplots(1, len(rows), figsize=(3.6 * len(rows), 3.2),
                           squeeze=False)
  for ax, r in zip(axes[0], rows):
    for init, style in zip(INITS, ('--', '-')):
      f = r[init]
      ax.plot(f['steps'], f['psnr_current'], style, label=init)
    ax.axhline(r['target'], color='gray', lw=0.8)
    ax.set_xscale('log')
    ax.set_title(f'{r["name"]} ({r["kind"]})', fontsize=9)
    ax.set_xlabel('step')
    ax.grid(alpha=0.3)
  axes[0][0].set_ylabel('PSNR of the current output (dB)')
  axes[0][0].legend(fontsize=8)
  ex.save_figure(fig, path, dpi=110)


def plot_outputs(results, fits, prior, path):
  plt = ex.pyplot()
  rows = results['images']
  fig, axes = plt.subplots(len(rows), 4, figsize=(9, 2.3 * len(rows)),
                           squeeze=False)
  for i, r in enumerate(rows):
    panels = [(fits['random'][i]['y'], f'noisy {r["psnr_noisy"]:.1f} dB'),
              (fits['random'][i]['restored'],
               f'random {r["random"]["final"]:.2f} dB'),
              (fits['learned'][i]['restored'],
               f'learned {r["learned"]["final"]:.2f} dB'),
              (fits['random'][i]['clean'], r['name'])]
    for ax, (img, title) in zip(axes[i], panels):
      ax.imshow(np.clip(np.asarray(img), 0, 1).squeeze(), cmap='gray')
      ax.set_title(title, fontsize=8)
      ax.axis('off')
  ex.save_figure(fig, path, dpi=110)
  fig, ax = plt.subplots(figsize=(3, 3))
  ax.imshow(np.clip(prior, 0, 1).squeeze(), cmap='gray')
  ax.set_title('learned init, step 0', fontsize=9)
  ax.axis('off')
  ex.save_figure(fig, path.replace('outputs.png', 'init_output.png'), dpi=110)


if __name__ == '__main__':
  ex.launch(run, 'experiments/learned_init/config.py:cpu',
            'runs/learned_init_cpu')
