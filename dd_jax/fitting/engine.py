"""The one way to start fits: images in, one record per image out.

    result = fit_images(config, clean=clean)               # measure, then fit
    result = fit_images(config, measurements=ys)           # given data
    result = fit_images(config, measurements=ys, clean=xs) # xs: metrics only
    for rec in result: rec['name'], rec['restored'], rec['psnr'], ...

Images are grouped by shape; each group is ONE vmapped fit (at most
`config.fit.images_per_call` images, when set), sharded over the devices of
`config.mesh` (`dd_jax.fitting.sharding.fit`). Keys come from
`dd_jax.fitting.keys`: image i gets `image_key(root, i)` whatever its group,
so its result does not depend on the other images. A clean image given with
its measurement is a reference for the metrics only; the fit never sees it.
"""

import dataclasses
import json
import time

from absl import logging
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from dd_jax import models
from dd_jax.errors import UserError
from dd_jax.evaluation import metrics
from dd_jax.fitting import checkpoint as ckpt_lib
from dd_jax.fitting import interrupt
from dd_jax.fitting import keys as keys_lib
from dd_jax.fitting import sharding
from dd_jax.fitting import stopping
from dd_jax.inverse import operators


@dataclasses.dataclass
class FitImagesResult:
  """`images`: one dict per image, in input order; `groups`: one per shape.

  Image record: name, group, clean (or None), y, aux, restored, psnr / ssim
  (vs clean, when known), psnr_corrupted (when y and clean shapes match),
  history (log steps, PSNR of the best iterate, PSNR of the current iterate;
  the PSNR lists are None without clean), history_loss (loss at each log
  step), history_probe (only with a `probe`: its value at each log step,
  float32 [log steps, ...]), losses [steps], params, best_params, input,
  model, seconds (of its group), ema / psnr_ema / ssim_ema (fit.ema),
  stop_step (-1: ran to the end; None without a stopper), finite,
  diverged_step (the first step whose loss was not finite, None if none),
  steps_run (of its group). With fit.ensemble = K > 1 (K fits per image,
  differing only in their keys, as entries of the same batched call):
  restored is the members' mean (or median), plus members [K, H, W, C],
  std, member_psnr, member_ssim. complex_valued: the operator's images
  are complex channel pairs (data.complex); then every PSNR / SSIM is of
  the magnitudes, and complex_errors (with clean) holds
  `metrics.complex_errors`. With fit.blend > 0 (denoising): restored is
  `blended(fit output, y, blend)`, plus blend (a), unblended (the fit's
  output) and psnr_unblended (with clean).
  Group record: shape, images (indices), seconds (compile_s apart),
  num_params, operator, stopper, devices (mesh size), processes, sharded.
  """
  images: list[dict]
  groups: list[dict]
  seconds: float

  def __getitem__(self, i):
    return self.images[i]

  def __iter__(self):
    return iter(self.images)

  def __len__(self):
    return len(self.images)


def groups_by_shape(shapes) -> dict[tuple, list[int]]:
  """{shape: [indices]} in order of first appearance."""
  groups = {}
  for i, shape in enumerate(shapes):
    groups.setdefault(tuple(shape), []).append(i)
  return groups


def calls(shapes, per_call: int = 0,
          widths=None) -> list[tuple[tuple, list[int]]]:
  """(shape, indices) of each compiled call: the images of one shape (and
  of one width, with `widths`: model.k = 0), at most `per_call` at a time
  (0: all of them)."""
  out = []
  keys = shapes if widths is None else [
      (tuple(s), k) for s, k in zip(shapes, widths)]
  for key, idx in groups_by_shape(keys).items():
    shape = tuple(key) if widths is None else key[0]
    step = per_call if per_call > 0 else len(idx)
    out += [(shape, idx[i:i + step]) for i in range(0, len(idx), step)]
  return out


def psnr(x, ref, complex_valued: bool = False) -> float:
  """PSNR in dB; of the magnitudes for complex images (channel pairs)."""
  if complex_valued:
    return float(metrics.magnitude_psnr(jnp.asarray(x), jnp.asarray(ref)))
  return float(metrics.psnr(jnp.asarray(x), jnp.asarray(ref)))


def ssim(x, ref, complex_valued: bool = False) -> float:
  """SSIM; of the magnitudes for complex images (channel pairs)."""
  x, ref = jnp.asarray(x), jnp.asarray(ref)
  if complex_valued:
    x, ref = metrics.magnitude(x), metrics.magnitude(ref)
  return float(metrics.ssim(x, ref))


def is_complex(config) -> bool:
  """data.complex: the images are complex, as real/imaginary channel pairs."""
  return bool((config.get('data') or {}).get('complex', False))


def _is_model(model) -> bool:
  return hasattr(model, 'apply') and hasattr(model, 'init_input')


def _make(given, kind: str, default, shape):
  """`given` (an object), `given(shape)` (a factory) or `default(shape)`."""
  if given is None:
    return default(shape)
  is_object = (_is_model(given) if kind == 'model' else
               hasattr(given, 'forward'))
  return given if is_object else given(shape)


def _image_shape(config, operator, y_shape):
  if operator is not None and hasattr(operator, 'forward'):
    if tuple(operator.image_shape):
      return tuple(operator.image_shape)
  return tuple(operators.image_shape_for(config.operator, y_shape,
                                         complex_valued=is_complex(config)))


def fit_images(config, *, clean=None, measurements=None, names=None,
               model=None, operator=None, stopper=None, indices=None,
               callback=None, progress=None, checkpoint=None,
               probe=None, verbose: bool = True) -> FitImagesResult:
  """Fits one model per image; returns a `FitImagesResult`.

  clean: `[H, W, C]` images (a list or an `[N, ...]` stack). Alone, they are
    measured with the operator and `config.operator`'s noise; with
    `measurements` they are references for the metrics only.
  measurements: given `[N, ...]` measurements to fit.
  names: one per image (default 'image<i>').
  model: a model object (init_input / init / apply / describe) or a factory
    `shape -> model`; default `models.make_model(config.model, shape)`.
  operator: an Operator or a factory `shape -> Operator`; default
    `operators.make_operator(config.operator, shape)`.
  stopper: a factory `(op, ys, auxs, weights, key) -> (stopper or None,
    train weights)`; default the `config.fit.stop` rule (stopping.py).
  indices: per-image key index (default 0..N-1): equal indices, equal keys.
  callback: called with each log record, with 'group' and 'images' (names).
  progress: an object with `update(image_steps, note)` (io.progress).
  checkpoint: a `checkpoint.RunCheckpoint`: each group resumes from its
    snapshot and saves new ones (single-process runs). Default: the next of
    the active `checkpoint.session` (launchers), else none. On a stop request
    (interrupt.py) `interrupt.Interrupted` is raised with `.result`, a
    FitImagesResult of the images fitted so far (None for the others).
  probe: optional `probe(image, y, clean) -> array` of ONE image's current
    output, run on the device at every log step (`loop.fit`'s probe; clean
    is None without clean images); its values are each record's
    `history_probe`. It changes nothing in the fit.
  verbose: log each group's header and the fit's log steps.
  """
  try:
    return fit_variants(
        [config], clean=clean, measurements=measurements, names=names,
        model=model, operator=operator, stopper=stopper, indices=indices,
        callback=callback, progress=progress, checkpoint=checkpoint,
        probe=probe, verbose=verbose)[0]
  except interrupt.Interrupted as e:
    e.result = e.result[0]
    raise


# The settings in which the configs of one fit_variants call may differ:
# they change no shape, so each (image, setting) is an entry of the same
# compiled fit. The learning rate scales each entry's updates (every
# optimizer's update is linear in it), the jitter std each entry's input
# noise; seed and noise sigma only change the keys and measurements.
ENTRY_FIELDS = ('seed', 'optim.lr', 'fit.jitter_std', 'operator.noise.sigma')


def _entry_free(config):
  """The fields configs of one call may differ in. With model.k = 0 the
  width follows the noise level, so another sigma is another model."""
  fields = ENTRY_FIELDS
  if models.width.is_auto(config.model):
    fields = tuple(f for f in fields if f != 'operator.noise.sigma')
  return ckpt_lib.RESUME_FREE + fields


def variant_groups(configs) -> list[list[int]]:
  """Indices of `configs` grouped so that each group may be ONE
  `fit_variants` call: equal but for ENTRY_FIELDS (and output), with the
  budget stop rule (a config with another stop rule is a group alone)."""
  groups = []
  for i, c in enumerate(configs):
    d = json.loads(c.to_json())
    for g in groups:
      first = configs[g[0]]
      if (_stop(c) == _stop(first) == 'budget' and not ckpt_lib.config_diff(
          json.loads(first.to_json()), d, free=_entry_free(first))):
        g.append(i)
        break
    else:
      groups.append([i])
  return groups


def _stop(config) -> str:
  return str(config.fit.get('stop', 'budget'))


def check_variants(configs):
  """Refuses configs that cannot be entries of one call (variant_groups)."""
  if len(configs) < 2:
    return
  first = json.loads(configs[0].to_json())
  for c in configs[1:]:
    diffs = ckpt_lib.config_diff(first, json.loads(c.to_json()),
                                 free=_entry_free(configs[0]))
    if diffs:
      raise UserError(
          f'Variants fitted in one call may differ only in '
          f'{", ".join(ENTRY_FIELDS)}; these differ: {"; ".join(diffs)}. '
          'Fit them as separate calls (engine.variant_groups).')
  if any(_stop(c) != 'budget' for c in configs):
    raise UserError('Variants fitted in one call need fit.stop=budget (a '
                    'stop rule sees its own measurements); fit them one by '
                    'one.')
  if float(configs[0].optim.lr) <= 0:
    raise UserError(f'optim.lr must be positive, got {configs[0].optim.lr}.')


def fit_variants(configs, *, clean=None, measurements=None, names=None,
                 model=None, operator=None, stopper=None, indices=None,
                 callback=None, progress=None, checkpoint=None,
                 probe=None, verbose: bool = True) -> list[FitImagesResult]:
  """`fit_images` of every config in `configs`, in the same compiled calls.

  The configs may differ only in ENTRY_FIELDS (seed, learning rate, input
  jitter std, noise sigma; `variant_groups` groups configs that do): each
  image x config x ensemble member is one entry of one batched fit, entry
  (j * V + v) * K + m for image j of the group, config v, member m.
  Returns one FitImagesResult per config, each what `fit_images(configs[v],
  ...)` returns (the same keys, measurements and steps; the learning rate
  enters as a scale of the first config's updates, equal to a separate fit
  up to rounding). Arguments: those of `fit_images`; the callback's records
  carry 'variants' (V). On a stop request `interrupt.Interrupted.result`
  is the list of results so far.
  """
  configs = list(configs)
  config, nv = configs[0], len(configs)
  check_variants(configs)
  if clean is None and measurements is None:
    raise ValueError('Give clean images, measurements or both.')
  n = len(clean if measurements is None else measurements)
  if clean is not None and len(clean) != n:
    raise ValueError(f'{len(clean)} clean images for {n} measurements.')
  names = list(names) if names is not None else [f'image{i}' for i in range(n)]
  indices = list(range(n)) if indices is None else [int(i) for i in indices]
  simulate = measurements is None
  if simulate:
    shapes = [tuple(np.shape(x)) for x in clean]
  else:
    shapes = [_image_shape(config, operator, np.shape(y))
              for y in measurements]
  shard = bool((config.get('mesh') or {}).get('shard', True))
  roots = [keys_lib.root_key(c.get('seed', 0)) for c in configs]
  outs, groups = [[None] * n for _ in configs], [[] for _ in configs]
  t0 = time.time()
  if checkpoint is None and ckpt_lib.current() is not None:
    checkpoint = ckpt_lib.current().next()  # a launcher's run: resumable
  per_call = int(config.fit.get('images_per_call', 0))
  members = int(config.fit.get('ensemble', 1))
  reduce = str(config.fit.get('ensemble_reduce', 'mean'))
  if members < 1 or reduce not in REDUCERS:
    raise UserError(f'fit.ensemble must be >= 1 and fit.ensemble_reduce one '
                    f'of {list(REDUCERS)}; got {members}, {reduce!r}.')
  hparams, fit_cfg = _entry_settings(configs, members)

  def results():
    return [FitImagesResult(images=o, groups=g, seconds=time.time() - t0)
            for o, g in zip(outs, groups)]

  make_op = lambda s: _make(operator, 'operator',
                            lambda t: operators.make_operator(
                                config.operator, t,
                                complex_valued=is_complex(config)), s)
  stack = lambda arrays, idx: (None if arrays is None else jnp.asarray(
      np.stack([np.asarray(arrays[i]) for i in idx])))

  def measure(c, root, op, idx, xs):
    """(fit keys, auxs, measurements) of config c for images idx."""
    ks = jnp.stack([keys_lib.image_key(root, indices[i]) for i in idx])
    k_fit, k_aux, k_noise = (jax.vmap(f)(ks) for f in (
        keys_lib.fit_key, keys_lib.aux_key, keys_lib.noise_key))
    auxs = jax.vmap(op.make_aux, in_axes=(0, None))(k_aux, 0)
    if not simulate:
      return k_fit, auxs, stack(measurements, idx)
    ys = jax.jit(jax.vmap(lambda k, x, a, o=c.operator: operators.measure(
        k, x, op, a, o)))(k_noise, xs, auxs)
    return k_fit, auxs, ys

  if float(config.fit.get('blend', 0.0)) > 0:
    for shape in dict.fromkeys(shapes):
      if tuple(make_op(shape).measurement_shape) != tuple(shape):
        raise UserError(
            f'fit.blend mixes the measurement into the restored image, so '
            f'they must have one shape; operator {config.operator.name!r} '
            f'measures another for images {list(shape)}. Set fit.blend=0.')
  sigmas = widths = None
  if model is None and models.width.is_auto(config.model):
    sigmas, widths = _auto_widths(config, shapes, make_op,
                                  lambda op, idx: measure(
                                      config, roots[0], op, idx,
                                      stack(clean, idx))[2])
  for gi, (shape, idx) in enumerate(calls(shapes, per_call, widths)):
    model_cfg = (config.model if widths is None else
                 models.width.with_k(config.model, widths[idx[0]]))
    spec = _make(model, 'model', lambda s: models.make_model(model_cfg, s),
                 shape)
    op = make_op(shape)
    cplx = bool(getattr(op, 'complex_valued', False))
    xs = stack(clean, idx)
    k_fits, auxs_v, ys_v = [], [], []
    for v, c in enumerate(configs):  # Each config's keys and measurements.
      k_fit, auxs, ys = measure(c, roots[v], op, idx, xs)
      k_fits.append(k_fit)
      auxs_v.append(auxs)
      ys_v.append(ys)
    # Entry (j * V + v) * K + m: image j, config v, ensemble member m, which
    # differ only in their fit key (keys_lib.member_key).
    by_entry = lambda per_v: jax.tree.map(
        lambda *a: jnp.stack(a, 1).reshape(-1, *a[0].shape[1:]), *per_v)
    k_fit = by_entry(k_fits)
    k_fit = jnp.stack([keys_lib.member_key(k, m) for k in k_fit
                       for m in range(members)])
    auxs, ys = by_entry(auxs_v), by_entry(ys_v)
    mesh = sharding.make_mesh() if shard else None
    z0 = spec.init_input(jax.random.key(0), ys[0])
    info = dict(shape=list(shape), images=list(idx),
                **({} if widths is None else {'k': widths[idx[0]]}),
                num_params=_num_params(spec, z0), operator=op,
                devices=mesh.size if shard else 1,
                processes=jax.process_count(), sharded=shard, variants=nv)
    if verbose:
      logging.info(
          '[fit] group %d: %d image(s) %s%s, operator %s, %s, %s parameters, '
          '%d steps, %s', gi, len(idx), 'x'.join(map(str, shape)),
          f' x {nv} settings' if nv > 1 else '', op.name, spec.describe(),
          f'{info["num_params"]:,}', int(config.fit.steps), _where(info))
      logging.info('[fit] model of group %d:\n%s', gi,
                   models.summary_table(spec, z0))
    weights = (None if op.weight is None else
               jax.vmap(op.weight, axis_size=len(idx) * nv)(auxs))
    rep = lambda tree: jax.tree.map(lambda a: jnp.repeat(a, members, 0), tree)
    ys_e, auxs_e, weights_e = rep(ys), rep(auxs), rep(weights)
    xs_e = None if xs is None else jnp.repeat(xs, nv * members, 0)
    hp_e = None if hparams is None else {
        k: np.tile(v, len(idx)) for k, v in hparams.items()}
    s_key = keys_lib.stopper_key(roots[0], gi)
    if stopper is None:
      rule, weights_e = stopping.make_stopper(
          config.fit, config.operator, op, ys_e, auxs_e, weights_e,
          key=s_key, known_sigma=simulate)
    else:
      rule, weights_e = stopper(op, ys_e, auxs_e, weights_e, s_key)
    info['stopper'] = rule
    group_ckpt = (checkpoint.group(gi) if checkpoint is not None
                  and jax.process_count() == 1 else None)
    stopped = None
    try:
      res = sharding.fit(
          k_fit, spec, op.forward, ys_e, auxs_e, optim_cfg=config.optim,
          fit_cfg=fit_cfg, clean=xs_e, weights=weights_e, stopper=rule,
          callback=_on_record(callback, progress, gi,
                              [names[i] for i in idx], shape, nv, members),
          verbose=verbose, mesh=mesh, shard=shard, checkpoint=group_ckpt,
          probe=probe, hparams=hp_e,
          psnr_fn=metrics.magnitude_psnr if cplx else metrics.psnr)
    except interrupt.Interrupted as e:
      res, stopped = e.result, e
    info['seconds'] = res.seconds
    info['compile_s'] = getattr(res, 'compile_s', 0.0)
    info['steps_run'] = res.steps_run
    for v in range(nv):
      groups[v].append(dict(info))
      for j, i in enumerate(idx):
        start = (j * nv + v) * members
        outs[v][i] = _record(res, start, names[i], gi, None if xs is None
                             else np.asarray(xs[j]), np.asarray(ys_v[v][j]),
                             auxs_e, spec, cplx)
        if members > 1:
          outs[v][i] = _ensemble(outs[v][i], res, start, members, reduce)
        if widths is not None:
          outs[v][i].update(auto_k=widths[i], sigma_est=sigmas[i])
        outs[v][i] = _blend(outs[v][i], configs[v].fit)
    if stopped is not None:
      stopped.result = results()
      raise stopped
  return results()


def split_record(record: dict, v: int) -> dict:
  """The log record of config v of a `fit_variants` call (its per-entry
  lists cut to its entries), as a fit of that config alone reports it."""
  nv = int(record.get('variants', 1))
  if nv == 1:
    return record
  out = {k: val for k, val in record.items() if k != 'variants'}
  n = len(record['loss'])
  k = n // (len(record['images']) * nv)  # ensemble members
  keep = [(j * nv + v) * k + m for j in range(len(record['images']))
          for m in range(k)]
  for key, val in record.items():
    if isinstance(val, (list, tuple)) and len(val) == n and key != 'images':
      out[key] = [val[e] for e in keep]
  return out


def _entry_settings(configs, members: int):
  """(hparams, fit section): the per-entry settings `[V * K]` (one config v
  after another, each repeated for its K members; tiled over the images by
  the caller) that differ between the configs, None when none does, and the
  fit section to compile (its jitter std the largest, so that the jittered
  step is compiled when any entry jitters)."""
  config = configs[0]
  if len(configs) == 1:
    return None, config.fit
  hp = {}
  lrs = [float(c.optim.lr) for c in configs]
  if len(set(lrs)) > 1:
    hp['lr_scale'] = np.repeat(np.asarray(lrs, np.float32) /
                               np.float32(lrs[0]), members)
  stds = [float(c.fit.jitter_std) for c in configs]
  fit_cfg = config.fit
  if len(set(stds)) > 1:
    hp['jitter_std'] = np.repeat(np.asarray(stds, np.float32), members)
    fit_cfg = ml_collections.ConfigDict(config.fit.to_dict())
    fit_cfg.jitter_std = max(stds)
  return hp or None, fit_cfg


REDUCERS = {'mean': np.mean, 'median': np.median}


def _auto_widths(config, shapes, make_op, measure):
  """model.k = 0: ([N] noise sigmas in 1/255 estimated from the first
  config's measurements, [N] widths by `models.width.auto_k`)."""
  sigmas = [0.0] * len(shapes)
  for shape, idx in groups_by_shape(shapes).items():
    op = make_op(shape)
    if tuple(op.measurement_shape) != tuple(shape):
      raise UserError(
          f'model.k=0 (automatic width) reads the noise level off the '
          f'measurement, which must be the image itself; operator '
          f'{op.name!r} measures {list(op.measurement_shape)} for images '
          f'{list(shape)}. Give model.k.')
    ys = np.asarray(measure(op, idx))
    for j, i in enumerate(idx):
      sigmas[i] = 255.0 * stopping.estimate_sigma(ys[j])
  widths = [models.width.auto_k(s, shape[:2])
            for s, shape in zip(sigmas, shapes)]
  for i, (s, k) in enumerate(zip(sigmas, widths)):
    logging.info('[fit] image %d: noise sigma estimated %.1f/255 -> '
                 'automatic width k=%d', i, s, k)
  return sigmas, widths


def _ensemble(rec: dict, res, start: int, members: int, reduce: str) -> dict:
  """Member 0's record `rec` turned into the ensemble's: restored is the
  mean (or median) of the members' outputs, `std` their per-pixel standard
  deviation, `members` / `member_psnr` / `member_ssim` each member's. The
  history, losses and params stay member 0's."""
  outs = np.asarray(res.restored[start:start + members])
  rec = dict(rec, restored=REDUCERS[reduce](outs, axis=0).astype(np.float32),
             members=outs, std=outs.std(axis=0), ensemble_reduce=reduce,
             finite=bool(np.all(res.alive[start:start + members])))
  x, c = rec['clean'], rec['complex_valued']
  if x is not None:
    rec['psnr'], rec['ssim'] = psnr(rec['restored'], x, c), ssim(
        rec['restored'], x, c)
    rec['member_psnr'] = [psnr(o, x, c) for o in outs]
    rec['member_ssim'] = [ssim(o, x, c) for o in outs]
    if c:
      rec['complex_errors'] = metrics.complex_errors(rec['restored'], x)
  return rec


def blend_weight(fit_cfg, y) -> float:
  """The share a of the measurement y in the result (fit.blend; scaled by
  fit.blend_ref_sigma / the noise level estimated from y when that is set)."""
  a = float(fit_cfg.get('blend', 0.0))
  ref = float(fit_cfg.get('blend_ref_sigma', 0.0))
  if a > 0 and ref > 0:
    a *= ref / max(255.0 * stopping.estimate_sigma(np.asarray(y)), 1e-3)
  return min(a, 1.0)


def blended(x, y, a: float) -> np.ndarray:
  """(1 - a) x + a y, float32."""
  return ((1.0 - a) * np.asarray(x, np.float32) +
          a * np.asarray(y, np.float32)).astype(np.float32)


def _blend(rec: dict, fit_cfg) -> dict:
  """The record with fit.blend applied: restored becomes (1 - a) restored
  + a y (its metrics too); `blend` holds a and `unblended` the fit's own
  output. Unchanged when fit.blend is 0."""
  a = blend_weight(fit_cfg, rec['y'])
  if a <= 0:
    return rec
  out = blended(rec['restored'], rec['y'], a)
  rec = dict(rec, restored=out, unblended=rec['restored'], blend=a)
  x, c = rec['clean'], rec['complex_valued']
  if x is not None:
    rec['psnr_unblended'] = rec['psnr']
    rec['psnr'], rec['ssim'] = psnr(out, x, c), ssim(out, x, c)
  return rec


def _num_params(model, z) -> int:
  """The model's parameter count (from shapes only: nothing is run)."""
  if hasattr(model, 'num_params'):
    return int(model.num_params())
  shapes = jax.eval_shape(model.init, jax.random.key(0), z)
  return models.param_count(shapes.get('params', shapes))


def _where(info) -> str:
  if not info['sharded']:
    return 'unsharded (one device)'
  procs = (f' in each of {info["processes"]} processes'
           if info['processes'] > 1 else '')
  return f'sharded over {info["devices"]} device(s){procs}'


def _on_record(callback, progress, gi, names, shape, variants: int = 1,
               members: int = 1):
  """The fit loop's record callback: advances `progress` by the steps of
  every entry (image x setting x ensemble member) and passes the record on."""
  last = [0]
  what = f'{len(names)} image(s) {shape[0]}x{shape[1]}' + (
      f' x {variants} settings' if variants > 1 else '') + (
          f' x {members} members' if members > 1 else '')

  def on_record(record):
    if progress is not None:
      progress.update(
          (record['step'] - last[0]) * len(names) * variants * members, what)
    last[0] = record['step']
    if callback is not None:
      extra = {'variants': variants} if variants > 1 else {}
      callback({'group': gi, 'images': names, **extra, **record})

  return on_record


def _record(res, j, name, gi, x, y, auxs, spec,
            complex_valued: bool = False) -> dict:
  steps = [h['step'] for h in res.history]
  take = lambda tree: jax.tree.map(lambda a: a[j], tree)
  r = res.restored[j]
  known = x is not None and 'psnr' in (res.history[0] if res.history else {})
  rec = dict(
      name=name, group=gi, clean=x, y=y, restored=r,
      aux=jax.tree.map(lambda a: np.asarray(a[j]), auxs),
      history=(steps, [h['psnr'][j] for h in res.history] if known else None,
               [h['psnr_current'][j] for h in res.history] if known else None),
      history_loss=[h['loss'][j] for h in res.history],
      losses=res.losses[j], params=take(res.params),
      best_params=take(res.best_params), input=res.inputs[j], model=spec,
      seconds=res.seconds, finite=bool(res.alive[j]),
      diverged_step=(None if res.diverged_steps is None
                     or res.diverged_steps[j] < 0
                     else int(res.diverged_steps[j])),
      steps_run=res.steps_run,
      ema=None if res.ema is None else res.ema[j],
      stop_step=None if res.stop_steps is None else int(res.stop_steps[j]),
      complex_valued=complex_valued)
  if res.history and 'probe' in res.history[0]:
    rec['history_probe'] = np.array([h['probe'][j] for h in res.history],
                                    np.float32)
  if x is not None:
    c = complex_valued  # PSNR and SSIM of the magnitudes
    rec['psnr'], rec['ssim'] = psnr(r, x, c), ssim(r, x, c)
    if y.shape == x.shape:
      rec['psnr_corrupted'] = psnr(y, x, c)
    if res.ema is not None:  # DIP reports the EMA of its outputs.
      rec['psnr_ema'], rec['ssim_ema'] = psnr(res.ema[j], x, c), ssim(
          res.ema[j], x, c)
    if c:
      rec['complex_errors'] = metrics.complex_errors(r, x)
  return rec
