"""One run from a config: validate, load, fit (the engine), write the workdir.

`run(config, workdir)` is the single library call behind `dd_jax.main`. It
first checks the whole config and its inputs (`validate`: nothing is
written, nothing is compiled), then the workdir (`io.workdir.check`), and
only then writes. The fitting, with its grouping by shape, keys,
measurement, stopping and sharding, is `dd_jax.fitting.engine.fit_images`.
Files written to the workdir (each atomically):

  config.json, .dd_jax_run (the marker: status, dd_jax version),
  metrics.jsonl (one JSON object per log step and group, flushed each),
  <name>_clean.png / _corrupted.png / _restored.png per image (complex
  images, data.complex: _magnitude.png, _phase.png and .npy of each),
  <name>_mask.png for inpainting (the mask used, white = observed),
  psnr.png (PSNR or loss vs step), summary.json (strict JSON, with the
  input each output name comes from, and its reference) and summary.txt.

A clean image is known for simulated runs (data.images) and for given
measurements with a reference (data.reference / data.pair); then _clean.png,
the PSNR / SSIM of metrics.jsonl and the summary, and psnr.png are against
it. A reference is never fitted: fit_images gets it as `clean` beside the
`measurements`, for the metrics only.
"""

import json
import math
import os
import shutil
import signal
import tempfile

from absl import logging
import jax
import jax.numpy as jnp
import numpy as np

from dd_jax import fitting
from dd_jax import models
from dd_jax.errors import UserError
from dd_jax.fitting import checkpoint
from dd_jax.fitting import engine
from dd_jax.fitting import interrupt
from dd_jax.fitting import stopping
from dd_jax.inverse import losses
from dd_jax.inverse import operators
from dd_jax.io import images as data_lib
from dd_jax.io import inputs as inputs_lib
from dd_jax.io import workdir as workdir_lib
from dd_jax.io import writers


def run(config, workdir: str) -> dict:
  """Runs the experiment `config` and writes its results into `workdir`."""
  inputs = validate(config)
  if jax.process_index() > 0:  # Process 0 writes the merged results.
    workdir = tempfile.mkdtemp(prefix=f'dd_jax_process{jax.process_index()}_')
  plan = check_workdir(config, workdir, inputs.names)
  session = checkpoint.Session(os.path.join(workdir, workdir_lib.CHECKPOINT),
                               _every_s(config))
  if plan.resume:
    check_resume(config, plan, session)
  workdir_lib.start(plan, config_json(config))
  metrics_path = os.path.join(workdir, 'metrics.jsonl')
  if plan.resume:
    trim_metrics(metrics_path, session)
  metrics = writers.MetricsLog(metrics_path, fresh=not plan.resume)
  try:
    with interrupt.catching(), checkpoint.session(session.directory,
                                                  session.every_s):
      result = engine.fit_images(config, names=inputs.names,
                                 callback=metrics.append,
                                 **fit_inputs(config, inputs))
  except interrupt.Interrupted as e:
    e.summary = write_results(workdir, e.result, inputs, interrupted=e)
    workdir_lib.finish(workdir, 'interrupted')
    raise
  summary = write_results(workdir, result, inputs)
  workdir_lib.finish(workdir)
  session.remove()  # The results are written: nothing left to resume.
  if jax.process_index() > 0:
    shutil.rmtree(workdir, ignore_errors=True)
  return summary


def run_variants(configs, workdirs) -> list[dict]:
  """`run(configs[v], workdirs[v])` for every v, fitted as ONE
  `engine.fit_variants` call: the configs must be equal but for
  `engine.ENTRY_FIELDS` (`engine.variant_groups`). Each workdir gets the
  files a run of its config alone writes (metrics.jsonl, PNGs, summary).
  No checkpoint is kept: an interrupted group ends 'interrupted' with the
  results so far and is fitted again when resumed (the sweep resumes runs).
  Several processes: the runs are made one after another."""
  if len(configs) == 1 or jax.process_count() > 1:
    return [run(c, w) for c, w in zip(configs, workdirs)]
  engine.check_variants(configs)
  inputs = [validate(c) for c in configs]
  plans = [check_workdir(c, w, i.names)
           for c, w, i in zip(configs, workdirs, inputs)]
  logs = []
  for plan, c, w in zip(plans, configs, workdirs):
    workdir_lib.start(plan, config_json(c))
    logs.append(writers.MetricsLog(os.path.join(w, 'metrics.jsonl')))

  def log(record):
    for v, m in enumerate(logs):
      m.append(engine.split_record(record, v))

  try:
    with interrupt.catching():
      results = engine.fit_variants(configs, names=inputs[0].names,
                                    callback=log,
                                    **fit_inputs(configs[0], inputs[0]))
  except interrupt.Interrupted as e:
    for v, w in enumerate(workdirs):
      write_results(w, e.result[v], inputs[v], interrupted=e)
      workdir_lib.finish(w, 'interrupted')
    raise
  summaries = []
  for res, inp, w in zip(results, inputs, workdirs):
    summaries.append(write_results(w, res, inp))
    workdir_lib.finish(w)
  return summaries


def _every_s(config) -> float:
  out = config.get('output') or {}
  return float(out.get('checkpoint_every_s', 300.0))


def check_resume(config, plan, session, finished_ok: bool = False):
  """Refuses (UserError) a resume of a finished run (unless `finished_ok`:
  an experiment whose finished runs are read back), of a run without a
  readable config, or with a config that differs from the run's (naming the
  fields); logs what it found."""
  path = plan.path
  if plan.status == 'finished' and not finished_ok:
    raise UserError(f'{path!r} holds a finished run: nothing to resume; '
                    'pass --config.output.overwrite=True to run it again.')
  try:
    with open(os.path.join(path, workdir_lib.CONFIG)) as f:
      saved = json.load(f)
  except (OSError, ValueError):
    raise UserError(f'{path!r} has no readable config.json to resume '
                    'from; pass --config.output.overwrite=True to start '
                    'again.') from None
  diffs = checkpoint.config_diff(saved, json.loads(config.to_json()))
  if diffs:
    raise UserError(
        f'Cannot resume {path!r} with a changed config ({"; ".join(diffs)});'
        ' resume with the same settings, or pass '
        '--config.output.overwrite=True to start again.')
  logging.info('[run] resuming %s: %s', path, session.describe()
               if session.exists() else 'no checkpoint yet, starting over')


def trim_metrics(path: str, session):
  """Keeps the metrics.jsonl records the checkpoints hold (the resumed fit
  makes the later ones again)."""
  done, ckpt = {}, checkpoint.RunCheckpoint(
      os.path.join(session.directory, 'call_0'))  # run's one fit_images call
  while (meta := ckpt.group(len(done)).meta()) is not None:
    done[len(done)] = meta['done']
  kept = []
  if os.path.isfile(path):
    with open(path) as f:
      for line in f:
        try:
          rec = json.loads(line)
        except ValueError:
          continue  # A line cut by the interruption.
        if rec.get('step', 0) <= done.get(rec.get('group', 0), -1):
          kept.append(line if line.endswith('\n') else line + '\n')
  writers.write_text(path, ''.join(kept))


def check_workdir(config, workdir: str, names) -> workdir_lib.Plan:
  """`io.workdir.check` with `config.output`'s settings and the names of
  every file the run may write; writes nothing."""
  out = config.get('output') or {}
  ema = bool(config.fit.get('ema', False))
  return workdir_lib.check(
      workdir, overwrite=bool(out.get('overwrite', False)),
      allow_other_files=bool(out.get('allow_other_files', False)),
      resume=bool(out.get('resume', False)),
      outputs=writers.output_files(
          names, ema, int(config.fit.get('ensemble', 1)) > 1,
          engine.is_complex(config), mask=config.operator.name == 'mask'))


def fit_inputs(config, inputs) -> dict:
  """`engine.fit_images`'s clean, measurements and operator for `inputs`.

  The operator is the engine's default (built per shape from the config)
  unless it is found in the frame (`operators.from_frame`: operator.mask.
  kind='auto_text'): then it is built here from the run's one input, the
  given measurement or the loaded image (whose measurement is then
  simulated with it), and a given frame is fitted as the operator measures
  it, masked (y * mask).
  """
  out = dict(clean=inputs.clean, measurements=inputs.given)
  if not operators.from_frame(config.operator):
    return out
  given = inputs.given is not None
  frame = np.asarray((inputs.given if given else inputs.clean)[0])
  shape = (operators.image_shape_for(config.operator, frame.shape)
           if given else frame.shape)
  op = operators.make_operator(config.operator, shape, frame=frame)
  out['operator'] = op
  if given:
    out['measurements'] = [np.asarray(op.forward(jnp.asarray(frame),
                                                 op.make_aux(None, 0)))]
  return out


def config_json(config) -> str:
  """config.json's text: strict JSON (a NaN setting is written null)."""
  return writers.to_json(json.loads(config.to_json()), indent=2) + '\n'


def write_results(workdir: str, result, inputs, interrupted=None) -> dict:
  """The PNGs, summary.json / .txt and psnr.png of a fit; returns the
  summary (per image, per group, the input of each name, seconds).
  interrupted: the `interrupt.Interrupted` of a stopped fit, whose result
  holds None for the images not fitted yet; the summary says so."""
  summary = {'images': {}, 'inputs': dict(zip(inputs.names, inputs.sources)),
             **({} if inputs.references is None else
                {'references': dict(zip(inputs.names, inputs.references))}),
             'groups': [
                 {'shape': g['shape'], 'images': len(g['images']),
                  'seconds': g['seconds'], 'num_params': g['num_params'],
                  'devices': g['devices'], 'sharded': g['sharded']}
                 for g in result.groups]}
  histories = {}
  infos = dict(zip(inputs.names, inputs.infos))
  for image in result:
    if image is None:  # Not fitted before the interruption.
      continue
    op = result.groups[image['group']]['operator']
    summary['images'][image['name']] = writers.write_image_outputs(
        workdir, image, infos.get(image['name']), mask=op.name == 'mask')
    steps, psnr, _ = image['history']
    histories[image['name']] = (steps, psnr if psnr is not None else
                                image['history_loss'])
  summary['seconds'] = result.seconds
  diverged = [n for n, r in summary['images'].items() if not r['finite']]
  if diverged:
    logging.warning('[run] %d image(s) diverged (%s): each keeps its last '
                    'weights with a finite, lowest loss; lower optim.lr.',
                    len(diverged), ', '.join(diverged))
  if interrupted is not None:
    summary['interrupted'] = {
        'signal': signal.Signals(interrupted.signum).name,
        'step': interrupted.step,
        'not_started': [n for n, r in zip(inputs.names, result) if r is None]}
  writers.finish(workdir, summary, histories,
                 has_clean=inputs.clean is not None)
  return summary


# ------------------------------------------------------------------ validate
def validate(config) -> inputs_lib.Inputs:
  """Checks the whole config and loads its inputs; writes nothing.

  Every setting (model, operator, optim, fit, data), every input file, and
  for each image shape the model, the operator and one fit step (traced by
  `jax.eval_shape`: nothing is compiled or run) are checked, so that a
  mistake is reported (UserError) before the workdir is touched. Returns
  the loaded inputs (`io.inputs.Inputs`).
  """
  try:
    check_settings(config)
    inputs = inputs_lib.load_inputs(config)
    simulate = inputs.given is None
    arrays = inputs.clean if simulate else inputs.given
    frame = None
    if operators.from_frame(config.operator):
      frame = arrays[0]
      if len(arrays) > 1:
        raise UserError(
            f"operator.mask.kind='auto_text' fits one frame per run (each "
            f"frame's mask is found in its own pixels); got {len(arrays)} "
            f"inputs ({', '.join(inputs.names)}): run them one by one.")
    for shape in dict.fromkeys(tuple(a.shape) for a in arrays):
      check_shape(config, shape, simulate, frame=frame)
  except UserError as e:
    raise UserError(str(e)) from None  # No chained traceback to show.
  return inputs


def check_settings(config):
  """The settings that need no image: names, ranges, types."""
  fit, optim, data = config.fit, config.optim, config.data
  opts = fitting.fit_options(fit)  # Unknown fields fail here.
  stop = fitting.stop_options(fit)
  steps = _count('fit.steps', opts.steps, 1)
  _count('fit.log_every', opts.log_every, 1)
  if _number('fit.jitter_std', opts.jitter_std) < 0:
    raise UserError(f'fit.jitter_std must be >= 0, got {opts.jitter_std}.')
  if opts.jitter_std > 0:
    _count('fit.jitter_decay_every', opts.jitter_decay_every, 1)
  _in_range('fit.ema_weight', opts.ema_weight, 0, 1)
  _in_range('fit.best_rel', opts.best_rel, 0, math.inf)
  _in_range('fit.rollback_db', opts.rollback_db, 0, math.inf)
  losses.get_loss(opts.loss)
  _count('fit.ensemble', opts.ensemble, 1)
  _count('fit.images_per_call', opts.images_per_call, 0)
  if opts.ensemble_reduce not in engine.REDUCERS:
    raise UserError(f'Unknown fit.ensemble_reduce {opts.ensemble_reduce!r}; '
                    f'choose one of {list(engine.REDUCERS)}.')
  if opts.best_rule not in fitting.step.BEST_RULES:
    raise UserError(f'Unknown fit.best_rule {opts.best_rule!r}; choose one '
                    f'of {list(fitting.step.BEST_RULES)}.')
  _check_stop(stop)
  fitting.optimizer_from_config(optim, steps)  # Names and fields.
  lr = _number('optim.lr', optim.get('lr', 0.01))
  if lr <= 0:
    raise UserError(f'optim.lr must be positive, got {lr}.')
  if optim.get('schedule') == 'step':
    _count('optim.decay_every', optim.get('decay_every', 1), 1)
  models.size_multiple(config.model)  # Unknown model.name fails here.
  models.width.check(config.model)
  if models.width.is_auto(config.model) and config.operator.name != 'identity':
    raise UserError(
        f"model.k=0 (automatic width) reads the noise level off a noisy "
        f"image, so it needs operator.name='identity' (denoising), not "
        f"{config.operator.name!r}; give model.k.")
  _in_range('fit.blend', opts.blend, 0, 1)
  _in_range('fit.blend_ref_sigma', opts.blend_ref_sigma, 0, math.inf)
  if opts.blend > 0 and config.operator.name != 'identity':
    raise UserError(
        f"fit.blend mixes the noisy image back into the result, so it needs "
        f"operator.name='identity' (denoising), not "
        f"{config.operator.name!r}; set fit.blend=0.")
  models.get_output(config.model.get('output', 'sigmoid'))
  operators.from_frame(config.operator)  # auto_text settings
  factor = operators.scale_factor(config.operator)
  if factor < 1:
    raise UserError(f'operator.downsample.factor must be >= 1, got {factor}.')
  _check_data(data, inputs_lib.size_multiple(config))
  _check_complex(config)
  noise = operators.noise_settings(config.operator)
  for key in ('sigma', 'peak', 'amount'):
    if key in noise and _number(f'operator.noise.{key}', noise[key]) < 0:
      raise UserError(f'operator.noise.{key} must be >= 0, got {noise[key]}.')
  if jax.process_count() > 1 and stop.stop != 'budget':
    raise UserError('Stopping rules (fit.stop) run in single-process fits '
                    'only; use fit.stop=budget with --coordinator.')


def check_shape(config, shape, simulate: bool, frame=None):
  """Builds the model and operator for images (simulate) or measurements
  of `shape` and traces one fit step on them, without running it. frame:
  the input an operator found in the frame is built from (fit_inputs)."""
  cplx = engine.is_complex(config)
  if simulate:
    image_shape = shape
  else:
    image_shape = operators.image_shape_for(config.operator, shape,
                                            complex_valued=cplx)
  model_cfg = config.model
  if models.width.is_auto(model_cfg):  # The width changes no other shape.
    model_cfg = models.width.with_k(model_cfg, models.width.CHECK_K)
  model = models.make_model(model_cfg, image_shape)
  op = operators.make_operator(config.operator, image_shape,
                               complex_valued=cplx, frame=frame)
  if not simulate and tuple(shape) != tuple(op.measurement_shape):
    raise UserError(
        f'A given measurement of shape {list(shape)} does not fit operator '
        f'{op.name!r}, whose measurements are {list(op.measurement_shape)}.')
  opts = fitting.fit_options(config.fit)
  tx = fitting.optimizer_from_config(config.optim, int(opts.steps))
  step = fitting.make_step(lambda p, z: model.apply({'params': p}, z),
                           op.forward, losses.get_loss(opts.loss), tx, opts)

  def one_step(key, v):
    aux = op.make_aux(key, 0)
    y = (operators.measure(key, v, op, aux, config.operator) if simulate
         else v)
    state, zs = fitting.init_state(key[None], model, tx, y[None], opts)
    state = jax.tree.map(lambda a: a[0], state)
    batch = {'z': zs[0], 'y': y, 'aux': aux}
    if op.weight is not None:
      batch['weight'] = op.weight(aux)
    return step(state, batch)

  jax.eval_shape(one_step, jax.random.key(0),
                 jax.ShapeDtypeStruct(shape, jnp.float32))


def _check_stop(stop):
  if stop.stop not in stopping.STOPPERS:
    raise UserError(f'Unknown fit.stop {stop.stop!r}; choose one of '
                    f'{list(stopping.STOPPERS)}.')
  if stop.stop == 'validation':
    holdout = _number('fit.holdout', stop.holdout)
    if not 0 < holdout < 1:
      raise UserError(f'fit.holdout must be in (0, 1), got {holdout}.')
    _count('fit.patience', stop.patience, 1)
  if stop.stop == 'discrepancy':
    _in_range('fit.stop_sigma', stop.stop_sigma, 0, math.inf)
    if _number('fit.stop_tau', stop.stop_tau) <= 0:
      raise UserError(f'fit.stop_tau must be positive, got {stop.stop_tau}.')


def _check_complex(config):
  """data.complex: an operator that measures complex images and an output
  that can be negative."""
  if not engine.is_complex(config):
    return
  operators.check_complex(config.operator)
  if config.model.get('output', 'sigmoid') == 'sigmoid':
    raise UserError("data.complex=True needs model.output='linear' or "
                    "'tanh': a sigmoid output lies in (0, 1), but real and "
                    "imaginary parts can be negative.")


def _check_data(data, multiple: int):
  size = data.get('size', 0)
  if isinstance(size, bool) or not isinstance(size, int):
    raise UserError(f'data.size must be a whole number (0 keeps the size), '
                    f'got {size!r}.')
  if data.get('measurement'):
    size = 0  # Given measurements keep their size: data.size is not used.
  data_lib.check_settings(size=size, multiple=multiple,
                          channels=data.get('channels', 'auto'),
                          alpha=data.get('alpha', 'keep'),
                          complex_valued=data.get('complex', False),
                          phase=data.get('phase', 'none'))
  if not data.get('images') and not data.get('measurement'):
    raise UserError('No images given; set data.images (files, a folder, or '
                    'a built-in name such as astronaut) or data.measurement.')
  inputs_lib.check_reference_settings(data)


def _number(name: str, value) -> float:
  try:
    return float(value)
  except (TypeError, ValueError):
    raise UserError(f'{name} must be a number, got {value!r}.') from None


def _count(name: str, value, least: int) -> int:
  if isinstance(value, bool) or not float(_number(name, value)).is_integer():
    raise UserError(f'{name} must be a whole number, got {value!r}.')
  if int(value) < least:
    raise UserError(f'{name} must be >= {least}, got {value}.')
  return int(value)


def _in_range(name: str, value, lo: float, hi: float):
  v = _number(name, value)
  if not lo <= v <= hi:
    want = f'>= {lo}' if hi == math.inf else f'in [{lo}, {hi}]'
    raise UserError(f'{name} must be {want}, got {value}.')
