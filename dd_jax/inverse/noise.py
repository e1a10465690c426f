"""Measurement noise models `noise(key, y, cfg) -> y_noisy`, looked up by name.

cfg.noise picks the model from `NOISES`; each draws from `key` only, so a
measurement is reproducible from the seed:

  none           y
  gaussian       y + sigma N(0, 1)                     (cfg.sigma)
  poisson        Poisson(peak * y) / peak, y >= 0       (cfg.peak, photons at 1.0)
  salt_pepper    a fraction cfg.amount of the entries set to 0 or 1 (half each)

Image-domain measurements are clipped to [0, 1] afterwards when cfg.clip (the
reference clips its noisy image); k-space or compressive measurements are not.
"""

from typing import Callable

import jax
import jax.numpy as jnp

from dd_jax.errors import UserError


def gaussian(key, y, cfg):
  return y + float(cfg.sigma) * jax.random.normal(key, y.shape, y.dtype)


def poisson(key, y, cfg):
  peak = float(cfg.get('peak', 30.0))
  if peak <= 0:
    raise UserError(f'operator.peak must be positive, got {peak}.')
  lam = peak * jnp.maximum(y, 0.0)
  return jax.random.poisson(key, lam, y.shape).astype(y.dtype) / peak


def salt_pepper(key, y, cfg):
  amount = float(cfg.get('amount', 0.1))
  if not 0.0 <= amount <= 1.0:
    raise UserError(f'operator.amount must be in [0, 1], got {amount}.')
  k_hit, k_salt = jax.random.split(key)
  hit = jax.random.uniform(k_hit, y.shape) < amount
  salt = jax.random.uniform(k_salt, y.shape) < 0.5
  return jnp.where(hit, salt.astype(y.dtype), y)


NOISES: dict[str, Callable] = {
    'none': lambda key, y, cfg: y,
    'gaussian': gaussian,
    'poisson': poisson,
    'salt_pepper': salt_pepper,
}


def add_noise(key: jax.Array, y: jax.Array, cfg, *, clip: bool = True
              ) -> jax.Array:
  """`NOISES[cfg.noise](key, y, cfg)`, clipped to [0, 1] if clip and cfg.clip."""
  kind = cfg.get('noise', 'gaussian')
  if kind not in NOISES:
    raise UserError(f'Unknown operator.noise {kind!r}; choose one of '
                    f'{sorted(NOISES)}.')
  out = NOISES[kind](key, y, cfg)
  return jnp.clip(out, 0.0, 1.0) if clip and cfg.get('clip', True) else out


def noise_std(cfg) -> float | None:
  """The noise standard deviation the config implies, None if unknown."""
  kind = cfg.get('noise', 'gaussian')
  if kind == 'none':
    return 0.0
  if kind == 'gaussian':
    return float(cfg.sigma)
  return None
