"""The host loop of a fit: compiled chunks between log steps, records, result.

    result = fit(keys, model, forward_fn, ys, auxs, optim_cfg=..., fit_cfg=...)
"""

import dataclasses
import time
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from dd_jax.evaluation import metrics
from dd_jax.errors import UserError
from dd_jax.fitting.optim import make_optimizer
from dd_jax.fitting.step import fit_options, init_state, make_chunk, make_step


@dataclasses.dataclass
class FitResult:
  params: Any              # final params, batched [N, ...]
  best_params: Any         # best-iterate params, batched
  inputs: np.ndarray       # fixed inputs B0 [N, H0, W0, k0]
  restored: np.ndarray     # [N, H, W, C]: best iterate if kept, else final
  losses: np.ndarray       # [N, steps] training loss per step (NaN if stopped)
  history: list[dict]      # one record per log step
  alive: np.ndarray        # [N] False where the loss went non-finite
  seconds: float
  ema: np.ndarray | None = None  # [N, H, W, C] EMA of outputs (fit.ema)
  stop_steps: np.ndarray | None = None  # [N] step a stopper fired, -1: none


def format_duration(seconds: float) -> str:
  seconds = int(round(seconds))
  m, s = divmod(seconds, 60)
  h, m = divmod(m, 60)
  return f'{h}h{m:02d}m' if h else f'{m}m{s:02d}s'


def fit(keys: jax.Array, spec, forward_fn, ys, auxs, *,
        optim_cfg, fit_cfg, clean=None, loss_fn=None, callback=None,
        verbose: bool = True, chunk_fn=None, weights=None,
        stopper=None) -> FitResult:
  """Fits one decoder per image to measurements `ys [N, ...]`.

  keys: `[N]` per-image keys (params init, input B0, jitter noise). Fitting
    images together or one by one with the same keys gives the same result.
  clean: optional `[N, H, W, C]` ground truth, used only for reporting PSNR.
  callback: called with each log record (a dict) as it is made.
  chunk_fn: optional wrapper `chunk_fn(chunk) -> chunk` (e.g. sharding).
  weights: optional `[N, ...]` loss weights (1 = observed), see losses.py.
  stopper: optional dd_jax.stopping rule, updated with the current outputs
    after every chunk; its stop steps and chosen iterates are returned.
  """
  from dd_jax.inverse import losses as losses_lib
  loss_fn = loss_fn or losses_lib.get_loss(fit_cfg.get('loss', 'mse'))
  steps, log_every = int(fit_cfg.steps), int(fit_cfg.get('log_every', 100))
  if steps < 1 or log_every < 1:
    raise UserError('fit.steps and fit.log_every must be positive.')
  log_every = min(log_every, steps)
  opts = fit_options(fit_cfg)
  tx = make_optimizer(optim_cfg, steps)
  apply_fn = spec.apply
  step = make_step(apply_fn, forward_fn, loss_fn, tx, opts)
  chunk = make_chunk(step, log_every)
  if chunk_fn is not None:
    chunk = chunk_fn(chunk)
  chunk = jax.jit(chunk, donate_argnums=(0,))

  n = keys.shape[0]
  state, zs = jax.jit(lambda k, y: init_state(k, spec, tx, y, opts))(
      keys, jnp.asarray(ys))
  batch = {'z': zs, 'y': jnp.asarray(ys), 'aux': auxs}
  if weights is not None:
    batch['weight'] = jnp.asarray(weights)
  current_fn = jax.jit(jax.vmap(apply_fn))

  @jax.jit
  def evaluate(state, zs, clean):
    out = jax.vmap(apply_fn)(state.params, zs)
    best = jax.vmap(apply_fn)(state.best_params, zs)
    restored = best if opts.best_iterate else out
    if clean is None:
      return restored, None, None
    return (restored, jax.vmap(metrics.psnr)(out, clean),
            jax.vmap(metrics.psnr)(restored, clean))

  @jax.jit
  def psnr_ema(ema, clean):
    return jax.vmap(metrics.psnr)(ema, clean)

  clean_j = None if clean is None else jnp.asarray(clean)
  all_losses = np.full((n, steps), np.nan, np.float32)
  history, done, alive_prev = [], 0, np.ones(n, bool)
  t_start = time.time()
  t_compiled = None
  while done < steps:
    todo = min(log_every, steps - done)
    state, losses = chunk(state, batch, jnp.asarray(todo, jnp.int32))
    losses = np.asarray(losses)
    if t_compiled is None:
      t_compiled = time.time()
      first_chunk = todo
    all_losses[:, done:done + todo] = losses[:, :todo]
    done += todo
    _, psnr_cur, psnr_out = evaluate(state, batch['z'], clean_j)
    alive = np.asarray(state.alive)
    now = time.time()
    rate = ((done - first_chunk) / (now - t_compiled)
            if done > first_chunk else first_chunk / (now - t_start))
    record = {'step': done, 'loss': [float(v) for v in losses[:, todo - 1]],
              'steps_per_s': rate, 'elapsed_s': now - t_start}
    if psnr_out is not None:
      record['psnr'] = [float(v) for v in np.asarray(psnr_out)]
      record['psnr_current'] = [float(v) for v in np.asarray(psnr_cur)]
      if state.ema is not None:
        record['psnr_ema'] = [float(v) for v in
                              np.asarray(psnr_ema(state.ema, clean_j))]
    history.append(record)
    for i in np.flatnonzero(alive_prev & ~alive):
      print(f'[fit] image {i}: non-finite loss by step {done}; its fit '
            f'stopped there and keeps its best iterate. Lower optim.lr.',
            flush=True)
    alive_prev = alive
    if callback is not None:
      callback(record)
    if verbose:
      eta = (steps - done) / rate if rate > 0 else 0.0
      msg = (f'step {done:>6}/{steps} | loss {np.nanmean(losses[:, todo - 1]):.3e}')
      if psnr_out is not None:
        msg += (f' | psnr {np.mean(record["psnr"]):.2f} dB '
                f'(current {np.mean(record["psnr_current"]):.2f})')
        if 'psnr_ema' in record:
          msg += f' | ema {np.mean(record["psnr_ema"]):.2f} dB'
      msg += f' | {rate:.1f} steps/s | ETA {format_duration(eta)}'
      print(msg, flush=True)
    if stopper is not None:
      stopper.update(done, current_fn(state.params, batch['z']))
      if stopper.halt and stopper.all_stopped:
        print(f'[fit] every image stopped by step {done}.', flush=True)
        break

  restored, _, _ = evaluate(state, batch['z'], None)
  if stopper is not None:
    restored = stopper.finalize(np.asarray(restored))
  return FitResult(
      params=jax.device_get(state.params),
      best_params=jax.device_get(state.best_params),
      inputs=np.asarray(zs), restored=np.asarray(restored),
      losses=all_losses, history=history, alive=np.asarray(state.alive),
      seconds=time.time() - t_start,
      ema=None if state.ema is None else np.asarray(state.ema),
      stop_steps=None if stopper is None else stopper.stop_steps)
