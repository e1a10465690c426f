"""When to stop fitting, without the clean image.

fit.stop in `STOPPERS` (see make_stopper):

  budget        run fit.steps steps (the reference; no stopper).
  discrepancy   stop at the first check where the per-entry squared residual
                mean ||A G(C) - y||^2 (observed entries) falls to
                stop_tau * sigma^2; sigma is fit.stop_sigma (in 1/255) or, if
                0, the noise level operator.noise.sigma for simulated
                Gaussian noise, else estimated from y by the median absolute
                deviation of its finest Haar diagonal band (image measurements).
                Returns the iterate at that check.
  validation    hold out fit.holdout of the observed entries of y (a seeded
                random subset) from the loss; stop when their squared error has
                not improved for fit.patience checks; returns the iterate with
                the lowest held-out error.

Checks happen every fit.log_every steps (the fit's host loop), so a stop
step is a multiple of log_every. A stopper is an object the fit calls with
`update(step, outputs)` after each chunk; it records stop_steps ([N], -1 while
running) and the outputs to return.
"""

import dataclasses

from absl import logging
import jax
import jax.numpy as jnp
import numpy as np

from dd_jax.errors import UserError
from dd_jax.inverse import operators

MAD_TO_SIGMA = 0.6745  # median |N(0, 1)|


@dataclasses.dataclass(frozen=True)
class StopOptions:
  """The stopping fields of the `fit` config section (see the docstring)."""
  stop: str = 'budget'       # budget | discrepancy | validation
  stop_sigma: float = 0.0    # discrepancy: sigma in 1/255 (0: known/MAD)
  stop_tau: float = 1.0      # discrepancy: stop at tau * sigma^2
  holdout: float = 0.05      # validation: held-out fraction
  patience: int = 5          # validation: checks without improvement


def stop_options(cfg=None, **overrides) -> StopOptions:
  """StopOptions from a `fit` config section; unknown fields fail."""
  from dd_jax import configurable
  from dd_jax.fitting.step import FitOptions
  return configurable.build(StopOptions, cfg, 'fit',
                            ignore=configurable.defaults(FitOptions),
                            **overrides)


def haar_diagonal(img: np.ndarray) -> np.ndarray:
  """The finest Haar (db1) diagonal detail band HH of `[H, W, ...]`:
  (a - b - c + d) / 2 over 2x2 blocks, as pywt.dwt2(img, 'haar')[1][2]."""
  img = np.asarray(img, np.float64)
  h, w = img.shape[0] // 2 * 2, img.shape[1] // 2 * 2
  a, b = img[0:h:2, 0:w:2], img[0:h:2, 1:w:2]
  c, d = img[1:h:2, 0:w:2], img[1:h:2, 1:w:2]
  return (a - b - c + d) / 2.0


def estimate_sigma(img: np.ndarray) -> float:
  """Noise sigma of an image from the finest diagonal wavelet band:
  median(|HH|) / 0.6745 (Donoho & Johnstone), all channels pooled."""
  return float(np.median(np.abs(haar_diagonal(img)))) / MAD_TO_SIGMA


def _weighted_residual(forward_fn):
  """[N] mean squared residual over the entries where weight = 1."""

  def one(x, y, aux, weight):
    err = jnp.square(forward_fn(x, aux) - y)
    w = jnp.broadcast_to(weight, err.shape)
    return jnp.sum(w * err) / jnp.maximum(jnp.sum(w), 1.0)

  return jax.jit(jax.vmap(one))


class _Stopper:
  """Bookkeeping shared by the rules: per-image stop step and output."""
  halt = True  # the fit stops once every image has stopped
  STATE = ('stop_steps', 'outputs')  # arrays a checkpoint keeps

  def __init__(self, n: int):
    self.stop_steps = np.full(n, -1, np.int64)
    self.outputs = None  # [N, H, W, C] chosen outputs, once known
    self.trace = []      # (step, per-image statistic) per check

  @property
  def all_stopped(self) -> bool:
    return bool(np.all(self.stop_steps >= 0))

  def state_dict(self) -> dict:
    """The rule's state as named arrays (for checkpoints)."""
    d = {k: np.asarray(getattr(self, k)) for k in self.STATE
         if getattr(self, k, None) is not None}
    if self.trace:
      d['trace_steps'] = np.asarray([s for s, _ in self.trace], np.int64)
      d['trace_values'] = np.stack([np.asarray(r) for _, r in self.trace])
    return d

  def load_state_dict(self, d: dict):
    """Restores `state_dict()`'s arrays."""
    for k in self.STATE:
      if k in d:
        setattr(self, k, np.array(d[k]))
    self.trace = (list(zip(np.asarray(d['trace_steps']).tolist(),
                           np.asarray(d['trace_values'])))
                  if 'trace_steps' in d else [])

  def _stop(self, i, step, output):
    self.stop_steps[i] = step
    self.outputs[i] = output

  def finalize(self, restored: np.ndarray) -> np.ndarray:
    """The restored images: the stopper's choice where it stopped."""
    if self.outputs is None:
      return restored
    stopped = self.stop_steps >= 0
    return np.where(stopped[:, None, None, None], self.outputs, restored)


class Discrepancy(_Stopper):
  """Stop when the squared residual falls to tau * sigma^2 (per image)."""

  def __init__(self, forward_fn, ys, auxs, weights, sigmas, tau=1.0):
    super().__init__(len(ys))
    self.threshold = tau * np.square(np.asarray(sigmas, np.float64))
    self._res = _weighted_residual(forward_fn)
    self._args = (ys, auxs, weights)

  def update(self, step: int, outputs: jax.Array):
    res = np.asarray(self._res(outputs, *self._args))
    self.trace.append((step, res))
    if self.outputs is None:
      self.outputs = np.zeros(outputs.shape, np.float32)
    hit = (res <= self.threshold) & (self.stop_steps < 0)
    for i in np.flatnonzero(hit):
      self._stop(i, step, np.asarray(outputs[i]))


class Validation(_Stopper):
  """Stop when the held-out error has not improved for `patience` checks."""
  STATE = _Stopper.STATE + ('best', 'best_step', 'bad', 'best_outputs')

  def __init__(self, forward_fn, ys, auxs, holdout_weights, patience=5,
               min_rel=1e-3):
    super().__init__(len(ys))
    self.patience, self.min_rel = int(patience), float(min_rel)
    self._res = _weighted_residual(forward_fn)
    self._args = (ys, auxs, holdout_weights)
    self.best = np.full(len(ys), np.inf)
    self.best_step = np.zeros(len(ys), np.int64)
    self.bad = np.zeros(len(ys), np.int64)

  def update(self, step: int, outputs: jax.Array):
    res = np.asarray(self._res(outputs, *self._args))
    self.trace.append((step, res))
    if self.outputs is None:
      self.outputs = np.zeros(outputs.shape, np.float32)
      self.best_outputs = np.zeros(outputs.shape, np.float32)
    running = self.stop_steps < 0
    better = running & (res < self.best * (1 - self.min_rel))
    for i in np.flatnonzero(better):
      self.best_outputs[i] = np.asarray(outputs[i])
    self.best = np.where(better, res, self.best)
    self.best_step = np.where(better, step, self.best_step)
    self.bad = np.where(better, 0, self.bad + 1)
    for i in np.flatnonzero(running & (self.bad >= self.patience)):
      self._stop(i, step, self.best_outputs[i])

  def finalize(self, restored):
    # Also when the budget ends first: the best held-out iterate is returned.
    if self.outputs is None:
      return restored
    seen = np.isfinite(self.best)[:, None, None, None]
    return np.where(seen, self.best_outputs, restored)


STOPPERS = ('budget', 'discrepancy', 'validation')


def holdout_split(key: jax.Array, shape, fraction: float) -> jax.Array:
  """A seeded boolean `shape` mask: True = held out (about `fraction`)."""
  if not 0.0 < fraction < 1.0:
    raise UserError(f'fit.holdout must be in (0, 1), got {fraction}.')
  return jax.random.uniform(key, shape) < fraction


def _sigma_for(y: np.ndarray, opts: StopOptions, noise: dict,
               image_like: bool) -> float:
  given = float(opts.stop_sigma)
  if given > 0:
    return given / 255.0
  if noise['name'] == 'gaussian':
    return float(noise['sigma'])
  if not image_like:
    raise UserError('fit.stop=discrepancy needs the noise level for this '
                    'operator: set fit.stop_sigma (in 1/255 units).')
  return estimate_sigma(y)


def make_stopper(fit_cfg, op_cfg, op, ys, auxs, weights, *, key=None,
                 known_sigma: bool = True):
  """Builds the fit.stop rule; returns (stopper or None, train weights).

  weights: the operator's loss weights `[N, ...]` or None. For 'validation'
  the returned train weights exclude the held-out entries; pass them to fit.
  known_sigma: False for given (real) measurements, whose operator.noise is
    not known, so sigma is estimated unless fit.stop_sigma is set.
  """
  opts = stop_options(fit_cfg)
  kind = opts.stop
  if kind not in STOPPERS:
    raise UserError(f'Unknown fit.stop {kind!r}; choose one of '
                    f'{list(STOPPERS)}.')
  if kind == 'budget':
    return None, weights
  ys = jnp.asarray(ys)
  per_entry = (op.measurement_shape if len(op.measurement_shape) == 1 else
               (*op.measurement_shape[:-1], 1))  # pixels share channels
  ones = jnp.ones((ys.shape[0], *per_entry), jnp.float32)
  w = ones if weights is None else jnp.asarray(weights)
  if kind == 'discrepancy':
    image_like = len(op.measurement_shape) == 3 and op.clip
    noise = (operators.noise_settings(op_cfg) if known_sigma else
             {'name': 'unknown'})
    sigmas = [_sigma_for(np.asarray(y), opts, noise, image_like) for y in ys]
    if max(sigmas) <= 0:
      raise UserError('fit.stop=discrepancy with noise-free measurements '
                      'never stops; use budget or validation.')
    logging.info('[stop] discrepancy: sigma = %s',
                 ', '.join(f'{s * 255:.2f}/255' for s in sigmas))
    return Discrepancy(op.forward, ys, auxs, w, sigmas,
                       float(opts.stop_tau)), weights
  key = jax.random.key(0) if key is None else key
  fraction = float(opts.holdout)
  keys = jax.random.split(key, ys.shape[0])
  held = jax.vmap(lambda k: holdout_split(k, w.shape[1:], fraction))(keys)
  train = w * (~held)
  val = w * held
  logging.info('[stop] validation: %.0f%% of the observed entries held out, '
               'patience %d checks.', 100 * fraction, opts.patience)
  return Validation(op.forward, ys, auxs, val, int(opts.patience)), train
