"""The host loop of a fit: compiled chunks between log steps, records, result.

    result = fit(keys, model, forward_fn, ys, auxs, optim_cfg=..., fit_cfg=...)

The fit step is compiled once, ahead of the first call, and its compile time
is reported apart from the fit's (steps/s and ETA exclude it). Between log
steps the compiled chunk runs in sub-chunks of about `progress_s` seconds
each (its step count is a traced argument, so they share that compilation)
to show progress; records are still made exactly every fit.log_every steps,
and the steps run are the same, in the same order.
"""

import dataclasses
import sys
import time
from typing import Any, Callable

from absl import logging
import jax
import jax.numpy as jnp
import numpy as np

from dd_jax.evaluation import metrics
from dd_jax.errors import UserError
from dd_jax.fitting import interrupt
from dd_jax.fitting import memory
from dd_jax.fitting.optim import optimizer_from_config
from dd_jax.fitting.step import (FitOptions, fit_options, fits_one_by_one,
                                 init_state, make_chunk, make_final_check,
                                 make_step)


@dataclasses.dataclass
class FitResult:
  params: Any              # final params, batched [N, ...]
  best_params: Any         # best-iterate params, batched
  inputs: np.ndarray       # fixed inputs B0 [N, H0, W0, k0]
  restored: np.ndarray     # [N, H, W, C]: best iterate if kept, else final
  losses: np.ndarray       # [N, steps] training loss per step (NaN if stopped)
  history: list[dict]      # one record per log step
  alive: np.ndarray        # [N] False where the loss went non-finite
  seconds: float           # the fit after compiling (compile_s apart)
  ema: np.ndarray | None = None  # [N, H, W, C] EMA of outputs (fit.ema)
  stop_steps: np.ndarray | None = None  # [N] step a stopper fired, -1: none
  compile_s: float = 0.0   # compiling the fit step and its evaluation
  diverged_steps: np.ndarray | None = None  # [N] first non-finite step, -1
  steps_run: int = 0       # steps fitted (less than fit.steps if stopped)


def format_duration(seconds: float) -> str:
  seconds = int(round(seconds))
  m, s = divmod(seconds, 60)
  h, m = divmod(m, 60)
  return f'{h}h{m:02d}m' if h else f'{m}m{s:02d}s'


class _Progress:
  """The progress between log steps: a `\\r` bar on a TTY stderr, else a log
  line when nothing was logged for `log_s` seconds."""

  def __init__(self, steps: int, enabled: bool, clock, log_s: float):
    self.steps, self.enabled = steps, enabled
    self.clock, self.log_s = clock, log_s
    self.tty = enabled and sys.stderr.isatty()
    self.shown = False
    self.last = clock()

  def update(self, done: int, rate: float):
    if not self.enabled:
      return
    eta = format_duration((self.steps - done) / rate) if rate > 0 else '?'
    text = f'{done}/{self.steps} steps | {rate:.1f} steps/s | ETA {eta}'
    if self.tty:
      filled = int(30 * done / self.steps)
      sys.stderr.write(f'\r[fit] [{"#" * filled}{"." * (30 - filled)}] {text}'
                       '\033[K')
      sys.stderr.flush()
      self.shown = True
    elif self.clock() - self.last >= self.log_s:
      self.log('[fit] %s', text)

  def log(self, msg: str, *args, log_fn=logging.info):
    """A log line (the bar, if shown, is cleared first)."""
    if self.shown:
      sys.stderr.write('\r\033[K')
      sys.stderr.flush()
      self.shown = False
    log_fn(msg, *args)
    self.last = self.clock()


def fit(keys: jax.Array, spec, forward_fn, ys, auxs, *,
        optim_cfg, fit_cfg, clean=None, loss_fn=None, callback=None,
        verbose: bool = True, chunk_fn=None, weights=None,
        stopper=None, progress_s: float = 2.0, progress_log_s: float = 20.0,
        clock: Callable[[], float] = time.perf_counter,
        checkpoint=None, probe=None, psnr_fn=None,
        hparams=None) -> FitResult:
  """Fits one decoder per image to measurements `ys [N, ...]`.

  keys: `[N]` per-image keys (params init, input B0, jitter noise). Fitting
    images together or one by one with the same keys gives the same result.
  optim_cfg: the `optim` section (make_optimizer's keyword arguments).
  fit_cfg: the `fit` section or a FitOptions (its stopping fields are the
    stopper's, see stopping.make_stopper).
  clean: optional `[N, H, W, C]` ground truth, used only for reporting PSNR.
  psnr_fn: `(image, clean) -> dB` for ONE image, the PSNR reported
    (default `metrics.psnr`; complex images: `metrics.magnitude_psnr`).
  callback: called with each log record (a dict) as it is made.
  verbose: log the compile, a line per log step and the progress between.
  chunk_fn: optional wrapper `chunk_fn(chunk) -> chunk` (e.g. sharding).
  weights: optional `[N, ...]` loss weights (1 = observed), see losses.py.
  stopper: optional dd_jax.stopping rule, updated with the current outputs
    after every log step; its stop steps and chosen iterates are returned.
  progress_s: the target seconds of one compiled call between log steps
    (at least one step); progress_log_s: off a TTY, the seconds without a
    log line after which a progress line is logged.
  clock: a monotonic clock in seconds, for the times reported.
  checkpoint: optional checkpoint.GroupCheckpoint: the fit starts from its
    snapshot if it has one, saves one when due, when it ends and when a stop
    is requested (interrupt.py: then it raises interrupt.Interrupted with the
    result so far).
  probe: optional `probe(image, y, clean) -> array` on ONE image: image the
    current output `[H, W, C]` (latest weights, input without jitter: what
    `psnr_current` scores), y its measurement, clean its ground truth (None
    without `clean`). It is vmapped over the images and compiled with the
    fit, run at every log step on the device, and its value (a small float
    array, any fixed shape) is recorded as `record['probe']`: one nested
    list per image (JSON, like the rest of the record). It reads the state
    only: a fit is bit-identical with and without it.
  hparams: optional per-entry settings {'lr_scale', 'jitter_std'}: `[N]`
    arrays (step.make_step's batch['hp']; engine.fit_variants).
  """
  from dd_jax.inverse import losses as losses_lib
  opts = fit_cfg if isinstance(fit_cfg, FitOptions) else fit_options(fit_cfg)
  loss_fn = loss_fn or losses_lib.get_loss(opts.loss)
  psnr_fn = psnr_fn or metrics.psnr
  steps, log_every = int(opts.steps), int(opts.log_every)
  if steps < 1 or log_every < 1:
    raise UserError('fit.steps and fit.log_every must be positive.')
  log_every = min(log_every, steps)
  tx = optimizer_from_config(optim_cfg, steps)
  apply_fn = lambda params, z: spec.apply({'params': params}, z)
  step = make_step(apply_fn, forward_fn, loss_fn, tx, opts)
  final_check = jax.jit(jax.vmap(make_final_check(apply_fn, forward_fn,
                                                  loss_fn, opts)))

  def build(one_by_one=None):
    """(place, jitted chunk); place: the layout a wrapped chunk keeps."""
    chunk = make_chunk(step, log_every, one_by_one)
    if chunk_fn is not None:
      chunk = chunk_fn(chunk)
    return (getattr(chunk, 'place', None),
            jax.jit(chunk, donate_argnums=(0,)))

  place, chunk = build()

  n = keys.shape[0]
  state, zs = jax.jit(lambda k, y: init_state(k, spec, tx, y, opts))(
      keys, jnp.asarray(ys))
  batch = {'z': zs, 'y': jnp.asarray(ys), 'aux': auxs}
  if weights is not None:
    batch['weight'] = jnp.asarray(weights)
  if hparams:
    batch['hp'] = {k: jnp.asarray(v, jnp.float32) for k, v in hparams.items()}
  if place is not None:
    state, batch = place(state), place(batch)
    zs = batch['z']
  snapshot = None
  if checkpoint is not None:
    like = {'state': state,
            'losses': np.zeros((n, steps), np.float32)}
    meta = checkpoint.meta()
    if meta is not None and stopper is not None and meta['stopper_shapes']:
      like['stopper'] = {k: np.zeros(shape, dtype) for k, (shape, dtype) in
                         meta['stopper_shapes'].items()}
    snapshot = checkpoint.restore(like) if meta is not None else None
  current_fn = jax.jit(jax.vmap(apply_fn))

  @jax.jit
  def evaluate(state, zs, clean):
    out = jax.vmap(apply_fn)(state.params, zs)
    best = jax.vmap(apply_fn)(state.best_params, zs)
    restored = best if opts.best_iterate else out
    if clean is None:
      return restored, None, None
    return (restored, jax.vmap(psnr_fn)(out, clean),
            jax.vmap(psnr_fn)(restored, clean))

  @jax.jit
  def psnr_ema(ema, clean):
    return jax.vmap(psnr_fn)(ema, clean)

  clean_j = None if clean is None else jnp.asarray(clean)
  has_ema = 'ema' in state.extras
  progress = _Progress(steps, verbose, clock, progress_log_s)
  # Sub-chunks are sized from this process's timing: with several processes
  # every one must make the same calls, so they run whole chunks there.
  split = (verbose and progress_s is not None and progress_s > 0
           and jax.process_count() == 1)

  # Compile ahead of the first call, so that the fit's time excludes it.
  t0 = clock()
  if verbose:
    shape = jax.eval_shape(jax.vmap(apply_fn), state.params, zs).shape
    progress.log('[fit] compiling the fit step for %d image(s) %s ...', n,
                 'x'.join(str(d) for d in shape[1:]))
  n_arg = jnp.asarray(log_every, jnp.int32)
  if snapshot is None or not snapshot[1]['finished']:  # steps left to run
    compiled = chunk.lower(state, batch, n_arg).compile()
    out = compiled.output_shardings[0]
    if jax.tree.leaves(out) != jax.tree.leaves(
        compiled.input_shardings[0][0]):
      # The chunk returns the state laid out otherwise (e.g. sharded): start
      # from that layout, so that every call and evaluation takes the same.
      state = jax.device_put(state, out)
      compiled = chunk.lower(state, batch, n_arg).compile()
    chunk = _guard_memory(compiled, build, state, batch, n_arg, progress)
  final_check = final_check.lower(state, batch).compile()
  evaluate = evaluate.lower(state, zs, clean_j).compile()
  if has_ema and clean_j is not None:
    psnr_ema = psnr_ema.lower(state.extras['ema'], clean_j).compile()
  if stopper is not None:
    current_fn = current_fn.lower(state.params, zs).compile()
  if probe is not None:
    probe_fn = jax.jit(lambda params, zs, ys, clean: jax.vmap(probe)(
        jax.vmap(apply_fn)(params, zs), ys, clean)).lower(
            state.params, zs, batch['y'], clean_j).compile()
  compile_s = clock() - t0
  if verbose:
    progress.log('[fit] compiled in %.1f s', compile_s)

  all_losses = np.full((n, steps), np.nan, np.float32)
  history, done, pos, run_s, fit_s0, finished = [], 0, 0, 0.0, 0.0, False
  if snapshot is not None:
    arrays, meta = snapshot
    state = jax.device_put(arrays['state'], jax.tree.map(
        lambda a: a.sharding, state))
    all_losses = np.array(arrays['losses'])
    if stopper is not None:
      stopper.load_state_dict(arrays.get('stopper', {}))
    history, done, pos = meta['history'], meta['done'], meta['pos']
    run_s, fit_s0, finished = meta['run_s'], meta['fit_s'], meta['finished']
    progress.log('[fit] resumed at step %d/%d from the checkpoint', pos, steps)
  alive_prev = np.asarray(state.alive)
  t_fit = clock() - fit_s0

  def snapshot_now(finished_now=False):
    arrays = {'state': state, 'losses': all_losses}
    if stopper is not None:
      arrays['stopper'] = stopper.state_dict()
    checkpoint.save(arrays, dict(
        pos=pos, done=done, steps=steps, history=history, run_s=run_s,
        fit_s=clock() - t_fit, finished=finished_now,
        stopper_shapes=None if stopper is None else {
            k: [list(np.shape(v)), str(np.asarray(v).dtype)]
            for k, v in arrays['stopper'].items()}))

  def stop_here(signum):
    if checkpoint is not None:
      snapshot_now()
    partial = _result(final_check(state, batch), zs, evaluate, clean_j,
                      all_losses, history, stopper, seconds=clock() - t_fit,
                      compile_s=compile_s, pos=pos)
    progress.log('[fit] stopped at step %d/%d.', pos, steps,
                 log_fn=logging.warning)
    raise interrupt.Interrupted(signum, pos, partial)

  while pos < steps and not finished:
    target = min(done + log_every, steps)  # the next log step
    while pos < target:
      m = target - pos
      if split:
        m = 1 if pos == 0 or run_s <= 0 else min(
            m, max(1, int(progress_s * pos / run_s)))
      t_call = clock()
      state, losses = chunk(state, batch, jnp.asarray(m, jnp.int32))
      losses = np.asarray(losses)
      run_s += clock() - t_call
      all_losses[:, pos:pos + m] = losses[:, :m]
      pos += m
      if interrupt.requested() is not None:
        stop_here(interrupt.requested())
      if checkpoint is not None and pos < target and checkpoint.due():
        snapshot_now()
      if pos < target:
        progress.update(pos, pos / (clock() - t_fit))
    done = target
    _, psnr_cur, psnr_out = evaluate(state, zs, clean_j)
    alive = np.asarray(state.alive)
    fit_s = clock() - t_fit
    rate = done / fit_s if fit_s > 0 else float('inf')
    record = {'step': done, 'loss': [float(v) for v in all_losses[:, done - 1]],
              'steps_per_s': rate, 'elapsed_s': fit_s}
    if not history:
      record['compile_s'] = compile_s
    if psnr_out is not None:
      record['psnr'] = [float(v) for v in np.asarray(psnr_out)]
      record['psnr_current'] = [float(v) for v in np.asarray(psnr_cur)]
      if has_ema:
        record['psnr_ema'] = [float(v) for v in np.asarray(
            psnr_ema(state.extras['ema'], clean_j))]
    if probe is not None:
      record['probe'] = np.asarray(probe_fn(state.params, zs, batch['y'],
                                            clean_j), np.float64).tolist()
    history.append(record)
    for i in np.flatnonzero(alive_prev & ~alive):
      progress.log('[fit] image %d: non-finite loss by step %d; its fit '
                   'stopped there and keeps its best iterate. Lower optim.lr.',
                   i, done, log_fn=logging.warning)
    alive_prev = alive
    if callback is not None:
      callback(record)
    if verbose:
      eta = (steps - done) / rate if rate > 0 else 0.0
      msg = (f'step {done:>6}/{steps} | loss '
             f'{np.nanmean(all_losses[:, done - 1]):.3e}')
      if psnr_out is not None:
        msg += (f' | psnr {np.mean(record["psnr"]):.2f} dB '
                f'(current {np.mean(record["psnr_current"]):.2f})')
        if 'psnr_ema' in record:
          msg += f' | ema {np.mean(record["psnr_ema"]):.2f} dB'
      msg += f' | {rate:.1f} steps/s | ETA {format_duration(eta)}'
      progress.log('%s', msg)
    if stopper is not None:
      stopper.update(done, current_fn(state.params, zs))
      if stopper.halt and stopper.all_stopped:
        progress.log('[fit] every image stopped by step %d.', done)
        finished = True
    if checkpoint is not None and done < steps and not finished and (
        checkpoint.due()):
      snapshot_now()
    if interrupt.requested() is not None and done < steps and not finished:
      stop_here(interrupt.requested())

  state = final_check(state, batch)
  if checkpoint is not None:
    snapshot_now(finished_now=True)
  return _result(state, zs, evaluate, clean_j, all_losses, history, stopper,
                 compile_s=compile_s, seconds=clock() - t_fit, pos=pos)


def _guard_memory(compiled, build, state, batch, n_arg, progress):
  """The compiled chunk if its memory fits the device (memory.py); on CPU a
  vmapped chunk that does not fit is rebuilt to fit the images one by one.
  Raises a UserError with what to change when even that does not fit."""
  device = list(jax.tree.leaves(state)[0].devices())[0]
  need, free = memory.step_bytes(compiled), memory.free_bytes(device)
  if memory.fits(need, free):
    return compiled
  n, ys = batch['y'].shape[0], batch['y']
  if device.platform == 'cpu' and n > 1 and not fits_one_by_one(ys):
    progress.log('[fit] %d images at once need about %.2f GiB, more than the '
                 '%.2f GiB free: fitting them one by one in the call.', n,
                 need / 2**30, free / 2**30, log_fn=logging.warning)
    compiled = build(True)[1].lower(state, batch, n_arg).compile()
    need = memory.step_bytes(compiled)
    if memory.fits(need, free):
      return compiled
  memory.refuse(need, free, n, ys.shape[1:], device)


def _result(state, zs, evaluate, clean_j, all_losses, history, stopper, *,
            seconds=0.0, compile_s=0.0, pos=0) -> FitResult:
  """The FitResult of `state` (also of a fit stopped early, at `pos`)."""
  restored = np.asarray(evaluate(state, zs, clean_j)[0])
  if stopper is not None:
    restored = stopper.finalize(restored)
  ema = state.extras.get('ema')
  alive = np.asarray(state.alive)
  run = all_losses[:, :pos]
  diverged = np.where(alive, -1, np.argmax(~np.isfinite(run), axis=1)
                      if pos else 0)
  return FitResult(
      params=jax.device_get(state.params),
      best_params=jax.device_get(state.best_params),
      inputs=np.asarray(zs), restored=restored,
      losses=all_losses, history=history, alive=alive,
      seconds=seconds,
      ema=None if ema is None else np.asarray(ema),
      stop_steps=None if stopper is None else stopper.stop_steps,
      compile_s=compile_s, diverged_steps=diverged, steps_run=pos)
