"""One experiment run from a config: load, corrupt, fit, write the workdir.

`run(config, workdir)` is the single library call behind `dd_jax.main`.
Images of the same shape are fitted together in one vmapped fit; different
shapes form separate groups. Files written to the workdir:

  config.json, metrics.jsonl (one JSON object per log step and group),
  <name>_clean.png / _corrupted.png / _restored.png per image,
  psnr.png (PSNR or loss vs step), summary.json and summary.txt.
"""

import collections
import json
import os
import time

import jax
import jax.numpy as jnp
import numpy as np

from dd_jax.io import images as data_lib
from dd_jax import fitting as fit_lib
from dd_jax.evaluation import metrics
from dd_jax import models
from dd_jax.inverse import operators
from dd_jax.fitting import stopping
from dd_jax.fitting import sharding
from dd_jax.errors import UserError

RUN_MARKER = 'config.json'


def prepare_workdir(workdir: str, overwrite: bool, markers=(RUN_MARKER,),
                    other_way: str = ''):
  """Creates `workdir`; refuses one holding any of `markers` (a run) unless
  `overwrite`. `other_way`: a further way out named in the message."""
  if not workdir:
    raise UserError('Give --workdir, the folder the run writes to.')
  held = any(os.path.exists(os.path.join(workdir, m)) for m in markers)
  if held and not overwrite:
    raise UserError(
        f'{workdir!r} already holds a run; choose another --workdir, '
        + (f'{other_way} ' if other_way else '')
        + 'or pass --config.output.overwrite=True to replace it.')
  os.makedirs(workdir, exist_ok=True)


def _names(sources):
  seen = collections.Counter()
  names = []
  for s in sources:
    base = os.path.splitext(os.path.basename(s))[0] or 'image'
    seen[base] += 1
    names.append(base if seen[base] == 1 else f'{base}_{seen[base] - 1}')
  return names


def _size_multiple(config) -> int:
  mult = models.size_multiple(config.model)
  return int(np.lcm(mult, operators.scale_factor(config.operator)))


def load_inputs(config):
  """Returns names, clean images (or None) and given measurements (or None)."""
  d = config.data
  if d.get('measurement'):
    sources = data_lib.list_sources(d.measurement)
    ys = [data_lib.load_measurement(s, d.get('channels', 'auto'))
          for s in sources]
    print(f'[data] {len(ys)} measurement(s) given, no clean image: PSNR '
          'against ground truth is not reported.', flush=True)
    operators.check_given_measurement(config.operator)
    mult = max(_size_multiple(config) // operators.scale_factor(
        config.operator), 1)
    ys = [data_lib.fit_size(y, 0, mult, s, d.get('crop', True))
          for y, s in zip(ys, sources)]
    return _names(sources), None, ys
  sources = data_lib.list_sources(d.images)
  mult = _size_multiple(config)
  clean = []
  for s in sources:
    img = data_lib.load_image(s, d.get('channels', 'auto'))
    clean.append(data_lib.fit_size(img, int(d.get('size', 0)), mult, s,
                                   d.get('crop', True)))
  return _names(sources), clean, None


def _image_shape(config, y_shape):
  return operators.image_shape_for(config.operator, y_shape)


def run(config, workdir: str) -> dict:
  """Runs the experiment `config` and writes its results into `workdir`."""
  if jax.process_index() > 0:  # Process 0 writes the merged results.
    import tempfile
    workdir = tempfile.mkdtemp(prefix=f'dd_jax_process{jax.process_index()}_')
  prepare_workdir(workdir, bool(config.output.get('overwrite', False)))
  names, clean, given = load_inputs(config)
  shapes = ([c.shape for c in clean] if clean is not None else
            [_image_shape(config, y.shape) for y in given])
  with open(os.path.join(workdir, RUN_MARKER), 'w') as f:
    f.write(config.to_json(indent=2))
  metrics_path = os.path.join(workdir, 'metrics.jsonl')
  open(metrics_path, 'w').close()

  groups = collections.defaultdict(list)
  for i, shape in enumerate(shapes):
    groups[tuple(shape)].append(i)

  root = jax.random.key(int(config.get('seed', 0)))
  summary = {'images': {}, 'groups': []}
  histories = {}
  t0 = time.time()
  for gi, (shape, idx) in enumerate(groups.items()):
    spec = models.make_model(config.model, shape)
    op = operators.make_operator(config.operator, shape)
    keys = jnp.stack([jax.random.fold_in(root, i) for i in idx])
    k_fit, k_aux, k_noise = (jax.vmap(lambda k, j=j: jax.random.fold_in(k, j))(
        keys) for j in range(3))
    auxs = jax.vmap(op.make_aux, in_axes=(0, None))(k_aux, 0)
    if clean is not None:
      xs = jnp.asarray(np.stack([clean[i] for i in idx]))
      ys = jax.jit(jax.vmap(lambda k, x, a: operators.measure(
          k, x, op, a, config.operator)))(k_noise, xs, auxs)
    else:
      xs, ys = None, jnp.asarray(np.stack([given[i] for i in idx]))
    print(f'[run] group {gi}: {len(idx)} image(s) {shape[0]}x{shape[1]}x'
          f'{shape[2]}, operator {op.name}, {spec.describe()}, '
          f'{spec.num_params():,} parameters, '
          f'{config.fit.steps} steps', flush=True)

    def log(record, gi=gi, idx=idx):
      with open(metrics_path, 'a') as f:
        f.write(json.dumps({'group': gi, 'images': [names[i] for i in idx],
                            **record}) + '\n')

    weights = (None if op.weight is None else
               jax.vmap(op.weight, axis_size=len(idx))(auxs))
    stopper, weights = stopping.make_stopper(
        config.fit, config.operator, op, ys, auxs, weights,
        key=jax.random.fold_in(root, 10_000 + gi), known_sigma=xs is not None)
    result = sharding.fit(k_fit, spec, op.forward, ys, auxs,
                          optim_cfg=config.optim, fit_cfg=config.fit,
                          clean=xs, callback=log, weights=weights,
                          stopper=stopper,
                          shard=bool(config.get('mesh', {}).get('shard', True)))
    summary['groups'].append({'shape': list(shape), 'images': len(idx),
                              'seconds': result.seconds,
                              'num_params': spec.num_params()})
    for j, i in enumerate(idx):
      rec = _write_image_outputs(workdir, names[i],
                                 None if xs is None else np.asarray(xs[j]),
                                 np.asarray(ys[j]), result.restored[j])
      rec['finite'] = bool(result.alive[j])
      if result.ema is not None:
        rec.update(_write_ema_output(workdir, names[i], result.ema[j],
                                     None if xs is None else np.asarray(xs[j])))
      if result.stop_steps is not None:
        rec['stop_step'] = int(result.stop_steps[j])
      summary['images'][names[i]] = rec
      histories[names[i]] = ([h['step'] for h in result.history],
                             [h['psnr'][j] if 'psnr' in h else h['loss'][j]
                              for h in result.history])
  summary['seconds'] = time.time() - t0
  _finish(workdir, summary, histories, has_clean=clean is not None)
  if jax.process_index() > 0:
    import shutil
    shutil.rmtree(workdir, ignore_errors=True)
  return summary


def _write_image_outputs(workdir, name, x, y, restored):
  rec = {}
  if y.ndim == 3 and y.shape[-1] in (1, 3, 4):  # not k-space / CS vectors
    data_lib.save_png(os.path.join(workdir, f'{name}_corrupted.png'), y)
  data_lib.save_png(os.path.join(workdir, f'{name}_restored.png'), restored)
  if x is not None:
    data_lib.save_png(os.path.join(workdir, f'{name}_clean.png'), x)
    rec['psnr_restored'] = float(metrics.psnr(restored, x))
    rec['ssim_restored'] = float(metrics.ssim(jnp.asarray(restored),
                                              jnp.asarray(x)))
    if y.shape == x.shape:
      rec['psnr_corrupted'] = float(metrics.psnr(y, x))
  return rec


def _write_ema_output(workdir, name, ema, x):
  """The EMA of the outputs (fit.ema), DIP's reported result."""
  data_lib.save_png(os.path.join(workdir, f'{name}_ema.png'), ema)
  return {} if x is None else {'psnr_ema': float(metrics.psnr(ema, x))}


def _finish(workdir, summary, histories, has_clean):
  with open(os.path.join(workdir, 'summary.json'), 'w') as f:
    json.dump(summary, f, indent=2)
  lines = []
  for name, rec in summary['images'].items():
    if 'psnr_restored' in rec:
      before = (f'{rec["psnr_corrupted"]:.2f} dB -> '
                if 'psnr_corrupted' in rec else '')
      lines.append(f'{name}: PSNR {before}{rec["psnr_restored"]:.2f} dB, '
                   f'SSIM {rec["ssim_restored"]:.4f}')
    else:
      lines.append(f'{name}: restored (no clean image, no PSNR)')
    if 'psnr_ema' in rec:
      lines[-1] += f', EMA of outputs {rec["psnr_ema"]:.2f} dB'
    if rec.get('stop_step', -1) >= 0:
      lines[-1] += f' [stopped at step {rec["stop_step"]}]'
    if not rec['finite']:
      lines[-1] += ' [stopped early: non-finite loss]'
  lines.append(f'total time {summary["seconds"]:.1f} s')
  text = '\n'.join(lines) + '\n'
  with open(os.path.join(workdir, 'summary.txt'), 'w') as f:
    f.write(text)
  print('[run] summary\n' + text + f'[run] wrote {workdir}', flush=True)
  _plot(os.path.join(workdir, 'psnr.png'), histories, has_clean)


def _plot(path, histories, has_clean):
  import matplotlib
  matplotlib.use('Agg')
  import matplotlib.pyplot as plt
  fig, ax = plt.subplots(figsize=(6, 4), dpi=100)
  for name, (steps, values) in histories.items():
    ax.plot(steps, values, label=name)
  ax.set_xlabel('step')
  if has_clean:
    ax.set_ylabel('PSNR of the output vs clean image (dB)')
  else:
    ax.set_ylabel('training loss')
    ax.set_yscale('log')
  ax.grid(alpha=0.3)
  ax.legend(fontsize=8)
  fig.tight_layout()
  fig.savefig(path)
  plt.close(fig)
