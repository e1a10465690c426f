"""Meta-learned initial weights (Reptile), vmapped over training images.

    result = meta.learn(model, op, sample, operator_cfg=config.operator,
                        optim_cfg=config.optim, fit_cfg=config.fit,
                        opts=meta.MetaOptions(...), key=key)
    models.save_init(path, result.params, result.z, model_cfg=config.model)

Each outer step takes `opts.batch` clean training images from
`sample(step)` (host arrays `[B, H, W, C]`, a function of the step only, so
a resumed run sees the same ones), measures them with the operator (fresh
noise per step), and fits each for `opts.inner_steps` steps of the config's
own fit step (`step.make_step`: its loss, optimizer and schedule, i.e. the
first inner_steps steps of a real fit) from the shared weights theta. Then
theta moves toward the mean of the fitted weights (Reptile, Nichol et al.
2018): theta <- theta + eps (mean_i theta_i - theta), eps = opts.outer_lr,
annealed linearly to 0 over the outer steps when opts.anneal. With
opts.learn_input the fixed input z also moves, by Adam on the mean gradient
of the fitted nets' losses with respect to z (first-order MAML): the fits
never change z, so the input is learned only through the outer loop.

With opts.keep_scale (off by default), the weights of the layers the model
names in `scale_invariant()` (the deep decoder's hidden layers: a channel
norm follows each) keep the norm of each output channel through every
update. The net's output does not depend on that scale, but a fit's Adam
steps have a fixed size, and plain Reptile grows it (cpu preset: the hidden
layers' norms 2-2.6x the init's after 80 updates). Keeping it was meant to
keep later fits fast; measured on the same crops and noise it makes the
20-step fits 0.7 dB worse after 100+ updates (experiments/learned_init/
README.md), so the grown scale is part of what Reptile learns.

The B inner fits are one vmapped call; nothing is differentiated through
them (first order). With a `checkpoint.GroupCheckpoint` the whole meta state
is saved every `every_s` seconds, at the end and on a stop request
(interrupt.py); a resumed run continues bit-identical (CPU).
"""

import dataclasses
import time
from typing import Any, Callable, NamedTuple

from absl import logging
import jax
import jax.numpy as jnp
import numpy as np
import optax

from dd_jax.errors import UserError
from dd_jax.evaluation import metrics
from dd_jax.fitting import interrupt
from dd_jax.fitting import step as step_lib
from dd_jax.fitting.optim import optimizer_from_config


@dataclasses.dataclass(frozen=True)
class MetaOptions:
  """The outer loop (the `meta` config section of experiments/learned_init).

  outer_steps: Reptile updates. inner_steps: fit steps per training image
  and update. batch: training images per update (one vmapped call).
  outer_lr: Reptile's eps in (0, 1], the share of the way to the mean fitted
  weights. anneal: eps falls linearly to 0 over the outer steps.
  learn_input: also learn the fixed input (Adam, lr input_lr, on the
  first-order MAML gradient). keep_scale: keep the per-channel norms of the
  model's scale-invariant weights (module docstring). log_every: outer
  steps between log records.
  """
  outer_steps: int = 200
  inner_steps: int = 20
  batch: int = 4
  outer_lr: float = 0.5
  anneal: bool = True
  learn_input: bool = False
  input_lr: float = 1e-3
  keep_scale: bool = False
  log_every: int = 10

  def check(self, section: str = 'meta'):
    """Raises UserError naming `section`.<field> for a bad value."""
    for name in ('outer_steps', 'inner_steps', 'batch', 'log_every'):
      if int(getattr(self, name)) < 1:
        raise UserError(f'{section}.{name} must be >= 1, got '
                        f'{getattr(self, name)}.')
    if not 0 < float(self.outer_lr) <= 1:
      raise UserError(f'{section}.outer_lr (Reptile eps) must be in (0, 1], '
                      f'got {self.outer_lr}.')
    if float(self.input_lr) <= 0:
      raise UserError(f'{section}.input_lr must be positive, got '
                      f'{self.input_lr}.')
    return self


class MetaState(NamedTuple):
  params: Any          # the initial weights being learned
  z: jax.Array         # the fixed input `[H0, W0, k0]`
  opt_params: Any      # the outer optimizer's state (Reptile: sgd)
  opt_z: Any           # Adam's state for the input
  step: jax.Array      # outer steps done


@dataclasses.dataclass
class MetaResult:
  """params / z: the learned init; history: one record per log step (step,
  loss_first / loss_last: mean inner loss at the first / last inner step,
  psnr: mean PSNR of the fitted outputs vs the clean images, seconds);
  seconds: training wall time (this process; compile included)."""
  params: Any
  z: np.ndarray
  history: list[dict]
  seconds: float


def _outer_tx(opts: MetaOptions) -> optax.GradientTransformation:
  eps = float(opts.outer_lr)
  if opts.anneal:
    return optax.sgd(optax.linear_schedule(eps, 0.0, int(opts.outer_steps)))
  return optax.sgd(eps)


def init_meta(model, key, opts: MetaOptions, params=None, z=None
              ) -> MetaState:
  """The meta state before the first update: `params` / `z` given, or the
  model's random init from `key` (its usual draws: weights, then input)."""
  k_params, k_input = jax.random.split(key)
  if z is None:
    z = model.init_input(k_input, None)
  if params is None:
    params = model.init(k_params, z)['params']
  return MetaState(params, jnp.asarray(z), _outer_tx(opts).init(params),
                   optax.adam(float(opts.input_lr)).init(jnp.asarray(z)),
                   jnp.asarray(0, jnp.int32))


def make_outer_step(model, op, *, operator_cfg, optim_cfg, fit_cfg,
                    opts: MetaOptions, fit_steps: int | None = None):
  """`outer(state, xs, key) -> (state, record)`: one Reptile update on the
  clean images xs `[B, H, W, C]` (measured inside with the key).

  fit_steps: the length of the fit the init is for (the optimizer's
  schedule; default fit_cfg.steps).
  """
  from dd_jax.inverse import losses as losses_lib
  from dd_jax.inverse import operators
  fit_opts = step_lib.fit_options(fit_cfg)
  loss_fn = losses_lib.get_loss(fit_opts.loss)
  tx = optimizer_from_config(optim_cfg, int(fit_steps or fit_opts.steps))
  apply_fn = lambda params, z: model.apply({'params': params}, z)
  step = step_lib.make_step(apply_fn, op.forward, loss_fn, tx, fit_opts)
  outer_tx, z_tx = _outer_tx(opts), optax.adam(float(opts.input_lr))
  invariant = tuple(getattr(model, 'scale_invariant', tuple)())

  def batch_of(z, y, aux):
    batch = {'z': z, 'y': y, 'aux': aux}
    if op.weight is not None:
      batch['weight'] = op.weight(aux)
    return batch

  def adapt(params, z, y, aux, key):
    """ONE image's fit of inner_steps steps from `params`."""
    state = step_lib.new_state(params, tx, key, fit_opts.best_rule)
    if fit_opts.ema or fit_opts.rollback_db > 0:
      out = jax.eval_shape(apply_fn, params, z)
      state = state._replace(
          extras=step_lib.init_extras(fit_opts, params, out))
    batch = batch_of(z, y, aux)
    state, losses = jax.lax.scan(lambda s, _: step(s, batch), state, None,
                                 length=int(opts.inner_steps))
    return state.params, losses

  def task_loss(params, z, y, aux):
    batch = batch_of(z, y, aux)
    pred = op.forward(apply_fn(params, z), aux)
    if 'weight' in batch:
      return loss_fn(pred, y, batch['weight'])
    return loss_fn(pred, y)

  def outer(state: MetaState, xs, key):
    b = xs.shape[0]
    k_aux, k_noise, k_fit = (jax.random.split(k, b) for k in
                             jax.random.split(key, 3))
    auxs = jax.vmap(op.make_aux, in_axes=(0, None))(k_aux, 0)
    ys = jax.vmap(lambda k, x, a: operators.measure(
        k, x, op, a, operator_cfg))(k_noise, xs, auxs)
    fitted, losses = jax.vmap(adapt, in_axes=(None, None, 0, 0, 0))(
        state.params, state.z, ys, auxs, k_fit)
    direction = jax.tree.map(lambda p, f: p - f.mean(0), state.params,
                             fitted)  # Reptile's "gradient"
    updates, opt_params = outer_tx.update(direction, state.opt_params,
                                          state.params)
    params = optax.apply_updates(state.params, updates)
    if opts.keep_scale:
      params = keep_scale(params, state.params, invariant)
    z, opt_z = state.z, state.opt_z
    if opts.learn_input:
      grad_z = jax.grad(lambda z: jnp.mean(jax.vmap(
          task_loss, in_axes=(0, None, 0, 0))(fitted, z, ys, auxs)))(state.z)
      z_updates, opt_z = z_tx.update(grad_z, opt_z, z)
      z = optax.apply_updates(z, z_updates)
    images = jax.vmap(apply_fn, in_axes=(0, None))(fitted, state.z)
    record = dict(loss_first=losses[:, 0].mean(),
                  loss_last=losses[:, -1].mean(),
                  psnr=jax.vmap(metrics.psnr)(images, xs).mean())
    return MetaState(params, z, opt_params, opt_z, state.step + 1), record

  return outer


def keep_scale(params, before, layers):
  """`params` with the `w` of each of `layers` rescaled so that every output
  channel (last axis) has its norm in `before`."""
  params = dict(params)
  for name in layers:
    w, w0 = params[name]['w'], before[name]['w']
    axes = tuple(range(w.ndim - 1))
    norm = lambda a: jnp.sqrt(jnp.sum(jnp.square(a), axis=axes))
    params[name] = dict(params[name], w=w * (norm(w0) / jnp.maximum(
        norm(w), 1e-12)))
  return params


def learn(model, op, sample: Callable[[int], np.ndarray], *, operator_cfg,
          optim_cfg, fit_cfg, opts: MetaOptions, key, fit_steps=None,
          checkpoint=None, params=None, z=None, progress=None,
          clock=time.perf_counter) -> MetaResult:
  """Meta-learns an init for `model` under operator `op` (module docstring).

  sample(step): the clean training images `[B, H, W, C]` of outer step
    `step` (deterministic in step). key: the init's and the measurements'
    root key. checkpoint: an optional checkpoint.GroupCheckpoint to resume
    from and save into. params / z: start from these instead of the random
    init. progress: an object with `update(n, note)` (io.progress),
    counting image-steps (batch x inner_steps per outer step).
  """
  opts = opts.check()
  k_init, k_steps = jax.random.split(key)
  state = init_meta(model, k_init, opts, params, z)
  outer = jax.jit(make_outer_step(
      model, op, operator_cfg=operator_cfg, optim_cfg=optim_cfg,
      fit_cfg=fit_cfg, opts=opts, fit_steps=fit_steps), donate_argnums=(0,))
  total, history, t0 = int(opts.outer_steps), [], clock()
  per_step = int(opts.batch) * int(opts.inner_steps)  # image-steps
  if checkpoint is not None and checkpoint.meta() is not None:
    arrays, meta = checkpoint.restore({'state': state})
    state, history = arrays['state'], list(meta['history'])
    logging.info('[meta] resumed at outer step %d/%d', meta['pos'], total)
    if progress is not None:
      progress.update(meta['pos'] * per_step, 'meta-learning')

  def save(finished=False):
    if checkpoint is not None:
      checkpoint.save({'state': state}, dict(
          pos=int(state.step), steps=total, history=history,
          finished=finished))

  pending = []
  while int(state.step) < total:
    i = int(state.step)
    xs = jnp.asarray(sample(i), jnp.float32)
    state, record = outer(state, xs, jax.random.fold_in(k_steps, i))
    pending.append(record)
    done = i + 1
    if progress is not None:
      progress.update(per_step, 'meta-learning')
    if done % int(opts.log_every) == 0 or done == total:
      means = {k: float(np.mean([float(r[k]) for r in pending]))
               for k in pending[0]}
      history.append(dict(step=done, seconds=clock() - t0, **means))
      pending = []
      logging.info('[meta] outer step %d/%d: inner loss %.5f -> %.5f, '
                   'fitted PSNR %.2f dB (%.0f s)', done, total,
                   means['loss_first'], means['loss_last'], means['psnr'],
                   clock() - t0)
    if interrupt.requested() is not None:
      save()
      raise interrupt.Interrupted(interrupt.requested(), done)
    if checkpoint is not None and checkpoint.due():
      save()
  save(finished=True)
  return MetaResult(jax.tree.map(np.asarray, state.params),
                    np.asarray(state.z), history, clock() - t0)


def crop_sampler(images, size: int, batch: int, seed: int = 0,
                 flips: bool = True) -> Callable[[int], np.ndarray]:
  """`sample(step)`: `batch` random `size` x `size` crops (random image,
  position and, with flips, mirror / transpose) of `images` (a list of
  `[H, W, C]` arrays, each at least size x size), the same for the same
  step and seed."""
  images = [np.asarray(x, np.float32) for x in images]
  small = [x.shape for x in images if min(x.shape[:2]) < size]
  if small:
    raise UserError(f'meta: training images {small} are smaller than the '
                    f'{size}x{size} crops; use larger images or a smaller '
                    'size.')

  def sample(step: int) -> np.ndarray:
    rng = np.random.default_rng([int(seed), int(step)])
    out = []
    for _ in range(batch):
      x = images[rng.integers(len(images))]
      r = rng.integers(x.shape[0] - size + 1)
      c = rng.integers(x.shape[1] - size + 1)
      crop = x[r:r + size, c:c + size]
      if flips:
        if rng.random() < 0.5:
          crop = crop[:, ::-1]
        if rng.random() < 0.5:
          crop = crop[::-1]
        if rng.random() < 0.5:
          crop = crop.transpose(1, 0, 2)
      out.append(crop)
    return np.stack(out)

  return sample
