"""Measurement noise models, looked up by name in `NOISES`.

`add_noise(key, y, name=...)` draws from `key` only, so a measurement is
reproducible from the seed:

  none           y
  gaussian       y + sigma N(0, 1)
  poisson        Poisson(peak * y) / peak, y >= 0       (peak: photons at 1.0)
  salt_pepper    a fraction `amount` of the entries set to 0 or 1 (half each)

Image-domain measurements are clipped to [0, 1] afterwards when `clip` (the
reference clips its noisy image); k-space or compressive measurements are not
(`operators.measure` passes clip=False for them).
"""

from typing import Callable

import jax
import jax.numpy as jnp

from dd_jax.errors import UserError


def none(key, y):
  del key
  return y


def gaussian(key, y, sigma: float):
  return y + float(sigma) * jax.random.normal(key, y.shape, y.dtype)


def poisson(key, y, peak: float):
  peak = float(peak)
  if peak <= 0:
    raise UserError(f'operator.noise.peak must be positive, got {peak}.')
  lam = peak * jnp.maximum(y, 0.0)
  return jax.random.poisson(key, lam, y.shape).astype(y.dtype) / peak


def salt_pepper(key, y, amount: float):
  amount = float(amount)
  if not 0.0 <= amount <= 1.0:
    raise UserError(f'operator.noise.amount must be in [0, 1], got {amount}.')
  k_hit, k_salt = jax.random.split(key)
  hit = jax.random.uniform(k_hit, y.shape) < amount
  salt = jax.random.uniform(k_salt, y.shape) < 0.5
  return jnp.where(hit, salt.astype(y.dtype), y)


# name -> (model, the add_noise argument it takes or None).
NOISES: dict[str, tuple[Callable, str | None]] = {
    'none': (none, None),
    'gaussian': (gaussian, 'sigma'),
    'poisson': (poisson, 'peak'),
    'salt_pepper': (salt_pepper, 'amount'),
}


def add_noise(key: jax.Array, y: jax.Array, *, name: str = 'gaussian',
              sigma: float = 25 / 255, peak: float = 30.0,
              amount: float = 0.1, clip: bool = True) -> jax.Array:
  """y with noise `name` (using its one parameter), clipped to [0, 1] if
  `clip`."""
  if name not in NOISES:
    raise UserError(f'Unknown operator.noise.name {name!r}; choose one of '
                    f'{sorted(NOISES)}.')
  model, param = NOISES[name]
  params = dict(sigma=sigma, peak=peak, amount=amount)
  out = model(key, y) if param is None else model(key, y, params[param])
  return jnp.clip(out, 0.0, 1.0) if clip else out
