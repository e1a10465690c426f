"""The pure fit step on ONE image, and the jitted chunk that runs many of them.

    step = make_step(apply_fn, forward_fn, loss_fn, tx, opts)
    chunk = make_chunk(step, max_steps)       # vmapped (or mapped) over images
    state, zs = init_state(keys, model, tx, ys, opts)

The step is written for one image; `make_chunk` runs many steps of it inside
one jit call (`lax.fori_loop`) and vmaps it over the image axis, so N images
with their own params, optimizer state, input, operator data and key fit in
one call and give what N separate fits give.

Reference features (REFERENCE.md section 2): Adam lr .01; input jitter
B0 + N(0, 1) * std with std *= 0.7 at every step i % decay_every == 0
(i = 0 included); best iterate: after a step, if best_loss > 1.005 * loss
(loss measured before the step, on the jittered input) the updated weights
become the best. That candidate's own loss is only known one step later:
with fit.best_rule='verified' (the default) it is kept if that loss is
finite and no higher than the loss it was chosen for, else the weights
before its update (whose own loss that was) are; so a step that blows up
the weights (a diverging fit) is never the best. 'reference' keeps the
candidate unchecked, as the authors' code does.
"""

import dataclasses
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from dd_jax.fitting import keys as keys_lib


class FitState(NamedTuple):
  """What every fit carries per image; optional features live in `extras`."""
  params: Any
  opt_state: Any
  best_params: Any
  best_loss: jax.Array
  step: jax.Array
  alive: jax.Array       # False once the loss went non-finite.
  key: jax.Array         # Jitter noise key; step i uses fold_in(key, i).
  # DIP features, {} when off (see init_extras): 'ema' (EMA of the outputs),
  # 'saved_params' and 'saved_psnr' (the rollback checkpoint).
  extras: dict = {}
  # fit.best_rule='verified': the weights before the best candidate's update
  # (own loss best_loss), and whether the candidate still awaits its check.
  # None: unchecked (the reference rule).
  best_fallback: Any = None
  best_pending: Any = None


@dataclasses.dataclass(frozen=True)
class FitOptions:
  """The `fit` config section (less the stopping rule, stopping.StopOptions).

  The defaults are the paper's (REFERENCE.md section 2); configs/common.py
  takes its `fit` section from them.
  """
  steps: int = 1900
  log_every: int = 100       # Host records (metrics, PSNR) every this many.
  loss: str = 'mse'          # A name in dd_jax.inverse.losses.
  jitter_std: float = 0.0
  jitter_decay_every: int = 100_000
  jitter_decay: float = 0.7
  best_iterate: bool = True
  best_rel: float = 0.005
  best_rule: str = 'verified'  # or 'reference' (see the module docstring)
  ema: bool = False          # DIP: EMA of the outputs, reported separately.
  ema_weight: float = 0.99
  rollback_db: float = 0.0   # > 0: roll back on a PSNR drop (DIP: 5 dB).
  images_per_call: int = 0   # engine: at most this many per call (0: all)
  ensemble: int = 1          # engine: fits per image, other init/input keys
  ensemble_reduce: str = 'mean'  # engine: mean | median of the members
  # engine, denoising: mix the fraction a = blend of the noisy image back
  # into the result, (1 - a) x + a y (the fit smooths away some detail
  # that y still holds); blend_ref_sigma > 0: a = blend * blend_ref_sigma /
  # sigma_hat, sigma_hat the noise level estimated from y (in 1/255), so
  # stronger noise gets less of y back.
  blend: float = 0.0
  blend_ref_sigma: float = 0.0


def fit_options(cfg=None, **overrides) -> FitOptions:
  """FitOptions from a `fit` config section; unknown fields fail."""
  from dd_jax import configurable
  from dd_jax.fitting.stopping import StopOptions
  ignore = configurable.defaults(StopOptions)
  return configurable.build(FitOptions, cfg, 'fit', ignore=ignore,
                            **overrides)


def fit_section(**overrides):
  """The `fit` config section: FitOptions' and StopOptions' defaults."""
  from dd_jax import configurable
  from dd_jax.fitting.stopping import StopOptions
  c = configurable.section(FitOptions)
  c.update(configurable.section(StopOptions))
  c.update(overrides)
  return c


def init_extras(opts: FitOptions, params, out) -> dict:
  """The DIP entries of `FitState.extras` for ONE image ({} when off).

  out: the model output (or its jax.ShapeDtypeStruct), for the EMA's shape.
  """
  extras = {}
  if opts.ema:
    extras['ema'] = jnp.zeros(out.shape, out.dtype)
  if opts.rollback_db > 0:
    extras['saved_params'] = params
    extras['saved_psnr'] = jnp.asarray(-jnp.inf, jnp.float32)
  return extras


def jitter_std_at(opts: FitOptions, step, std0=None):
  """std at step i: std0 * decay^(i // every + 1) (the decay fires at i = 0);
  std0: this entry's (batch['hp']['jitter_std']), default opts.jitter_std."""
  std0 = opts.jitter_std if std0 is None else std0
  return std0 * opts.jitter_decay ** (step // opts.jitter_decay_every + 1)


def _jittered(opts: FitOptions, state, batch):
  """The input z of this step: with its jitter noise when opts.jitter_std
  > 0 (the largest of the batch's entries; each entry's own std from
  batch['hp'] when given: an entry with std 0 gets z itself)."""
  z = batch['z']
  if opts.jitter_std > 0:
    noise = jax.random.normal(jax.random.fold_in(state.key, state.step),
                              z.shape, z.dtype)
    std0 = batch.get('hp', {}).get('jitter_std')
    z = z + jitter_std_at(opts, state.step, std0) * noise
  return z


def make_step(apply_fn, forward_fn, loss_fn, tx, opts: FitOptions):
  """One fit step on ONE image: `step(state, batch) -> (state, loss)`.

  apply_fn(params, z) -> image; forward_fn(image, aux) -> measurement;
  loss_fn(pred, y) -> scalar; batch = {'z', 'y', 'aux'} and optionally
  'weight' (loss weights) and 'hp', this entry's own settings of a batch of
  variants (engine.fit_variants): 'lr_scale' (its learning rate over the
  optimizer's: every optimizer's update is linear in the learning rate) and
  'jitter_std'.
  """

  def step(state: FitState, batch):
    z = _jittered(opts, state, batch)

    def loss_of(params):
      image = apply_fn(params, z)
      pred = forward_fn(image, batch['aux'])
      if 'weight' in batch:  # Observed / training entries (dd_jax.stopping).
        return loss_fn(pred, batch['y'], batch['weight']), (image, pred)
      return loss_fn(pred, batch['y']), (image, pred)

    (loss, (image, pred)), grads = jax.value_and_grad(loss_of, has_aux=True)(
        state.params)
    updates, opt_state = tx.update(grads, state.opt_state, state.params)
    if 'lr_scale' in batch.get('hp', {}):
      updates = jax.tree.map(lambda u: u * batch['hp']['lr_scale'], updates)
    params = optax.apply_updates(state.params, updates)
    alive = state.alive & jnp.isfinite(loss)
    keep = lambda new, old: jax.tree.map(
        lambda a, b: jnp.where(alive, a, b), new, old)
    params, opt_state = keep(params, state.params), keep(opt_state,
                                                         state.opt_state)
    state = check_best(state, loss)
    improved = alive & (state.best_loss > (1.0 + opts.best_rel) * loss)
    pick = lambda new, old: jax.tree.map(
        lambda a, b: jnp.where(improved, a, b), new, old)
    best_params = pick(params, state.best_params)
    best_loss = jnp.where(improved, loss, state.best_loss)
    fallback, pending = state.best_fallback, state.best_pending
    if pending is not None:
      fallback, pending = pick(state.params, fallback), improved
    new = FitState(params, opt_state, best_params, best_loss, state.step + 1,
                   alive, state.key, state.extras, fallback, pending)
    return apply_dip_features(opts, state, new, image, pred, batch['y']), loss

  return step


def check_best(state: FitState, loss) -> FitState:
  """The 'verified' best-iterate check: `loss` is the own loss of
  `state.params`, which is the best candidate when it is pending. Keeps it if
  finite and no higher than best_loss, else falls back to the weights before
  its update. A no-op for the reference rule."""
  if state.best_pending is None:
    return state
  bad = state.best_pending & ~(jnp.isfinite(loss) & (loss <= state.best_loss))
  best = jax.tree.map(lambda a, b: jnp.where(bad, a, b), state.best_fallback,
                      state.best_params)
  return state._replace(best_params=best,
                        best_pending=jnp.zeros_like(state.best_pending))


def make_final_check(apply_fn, forward_fn, loss_fn, opts: FitOptions):
  """`final(state, batch) -> state` for ONE image: the check of a best
  candidate chosen at the last step, on the loss the next step would see."""

  def final(state: FitState, batch):
    if state.best_pending is None:
      return state
    z = _jittered(opts, state, batch)
    pred = forward_fn(apply_fn(state.params, z), batch['aux'])
    loss = (loss_fn(pred, batch['y'], batch['weight']) if 'weight' in batch
            else loss_fn(pred, batch['y']))
    return check_best(state, loss)

  return final


def apply_dip_features(opts: FitOptions, state: FitState, new: FitState,
                       image, pred, y) -> FitState:
  """DIP's EMA of outputs and rollback (REFERENCE.md section 4), if on.

  state: before the step; new: after it. EMA: ema = w ema + (1 - w)
  G(params; jittered z), the output this step computed (the first step sets
  ema to it). Rollback: psnr = -10 log10(mse(A(G), y)) of this step's output;
  if it is more than rollback_db below the last saved one, the weights go
  back to the saved ones and this step's update is dropped; otherwise the
  weights that produced it are saved.
  """
  old, extras = state.extras, dict(new.extras)
  if opts.ema:
    w = jnp.where(state.step == 0, 0.0, opts.ema_weight)
    extras['ema'] = w * old['ema'] + (1.0 - w) * image
  params, opt_state = new.params, new.opt_state
  if opts.rollback_db > 0:
    psnr = -10.0 * jnp.log10(jnp.mean(jnp.square(pred - y)))
    drop = state.alive & (psnr < old['saved_psnr'] - opts.rollback_db)
    pick = lambda a, b: jax.tree.map(lambda u, v: jnp.where(drop, u, v), a, b)
    params = pick(old['saved_params'], params)
    opt_state = pick(state.opt_state, opt_state)
    extras['saved_params'] = pick(old['saved_params'], state.params)
    extras['saved_psnr'] = jnp.where(drop, old['saved_psnr'], psnr)
  return new._replace(params=params, opt_state=opt_state, extras=extras)


# On CPU, images whose measurement has at least this many values are fitted
# one after another inside the jitted chunk (`lax.map` of the unbatched step)
# rather than vmapped: per image, 128x128x3 -28%, 256x256x3 -9%, 512x512x3
# even, and peak memory of one image instead of N (benchmarks/README.md,
# lever 16). Smaller images amortize dispatch better under vmap (64x64, 32
# images: vmap -18%). GPUs and TPUs always vmap.
SEQUENTIAL_MIN_SIZE = 128 * 128


def fits_one_by_one(y: jax.Array) -> bool:
  """Whether `make_chunk` maps over the images of `y` `[N, ...]` in
  sequence (True) or vmaps them."""
  return (y.shape[0] > 1 and jax.default_backend() == 'cpu'
          and y[0].size >= SEQUENTIAL_MIN_SIZE)


def make_chunk(step, max_steps: int, one_by_one: bool | None = None):
  """Batched `chunk(state, batch, n) -> (state, losses [N, max_steps])`.

  Runs n <= max_steps steps in one call; n is a traced value, so every chunk
  length shares one compilation. Unused loss slots are NaN. one_by_one:
  map over the images in sequence (True) or vmap them (False); None: the
  `fits_one_by_one` rule.
  """

  def chunk_one(state, batch, n):
    def body(i, carry):
      state, losses = carry
      state, loss = step(state, batch)
      return state, losses.at[i].set(loss)
    losses = jnp.full((max_steps,), jnp.nan, jnp.float32)
    return jax.lax.fori_loop(0, n, body, (state, losses))

  batched = jax.vmap(chunk_one, in_axes=(0, 0, None))

  def chunk(state, batch, n):
    sequential = (fits_one_by_one(batch['y']) if one_by_one is None else
                  one_by_one and batch['y'].shape[0] > 1)
    if sequential:
      return jax.lax.map(lambda sb: chunk_one(*sb, n), (state, batch))
    if batch['y'].shape[0] != 1:
      return batched(state, batch, n)
    # One image: the same computation without the batch axis. Under vmap,
    # XLA on CPU gives every dot a batch dimension and transposes the
    # full-size activation for each layer's dW = x^T dy (a copy plus a slow
    # library GEMM: ~40% of a 512x512 step); unbatched it calls a GEMM that
    # reads x transposed in place (benchmarks/README.md, lever 12).
    squeeze = lambda tree: jax.tree.map(lambda a: a[0], tree)
    out = chunk_one(squeeze(state), squeeze(batch), n)
    return jax.tree.map(lambda a: a[None], out)

  return chunk


BEST_RULES = ('verified', 'reference')


def new_state(params, tx, key: jax.Array, best_rule: str = 'verified'
              ) -> FitState:
  """The state of ONE image before its first step (no extras)."""
  if best_rule not in BEST_RULES:
    from dd_jax.errors import UserError
    raise UserError(f'Unknown fit.best_rule {best_rule!r}; choose one of '
                    f'{list(BEST_RULES)}.')
  checked = best_rule == 'verified'
  return FitState(params, tx.init(params), params,
                  jnp.asarray(jnp.inf, jnp.float32), jnp.asarray(0, jnp.int32),
                  jnp.asarray(True), key, {}, params if checked else None,
                  jnp.asarray(False) if checked else None)


def init_state(keys: jax.Array, model, tx, ys=None,
               opts: FitOptions | None = None) -> tuple[FitState, jax.Array]:
  """Per-image initial states and fixed inputs from per-image keys `[N]`.

  model: any `models.ImageModel` (a Flax module; `models.make_model`). The
  state holds its `params` collection. ys: the measurements `[N, ...]` (used
  by inputs built from them). opts: turns on the DIP state.
  """
  opts = opts or FitOptions()

  def one(key, y):
    k_params, k_input, k_jitter = keys_lib.split_fit_key(key)
    z = model.init_input(k_input, y)
    params = model.init(k_params, z)['params']
    state = new_state(params, tx, k_jitter, opts.best_rule)
    if opts.ema or opts.rollback_db > 0:
      out = jax.eval_shape(lambda p, z: model.apply({'params': p}, z), params,
                           z)
      state = state._replace(extras=init_extras(opts, params, out))
    return state, z

  if ys is None:
    return jax.vmap(lambda k: one(k, None))(keys)
  return jax.vmap(one)(keys, ys)


