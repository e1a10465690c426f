"""Per-image losses `loss(pred, target) -> scalar`, looked up by name."""

from typing import Callable

import jax
import jax.numpy as jnp

from dd_jax.errors import UserError

Loss = Callable[[jax.Array, jax.Array], jax.Array]


def mse(pred: jax.Array, target: jax.Array) -> jax.Array:
  """Mean squared error over all elements (the reference's loss)."""
  return jnp.mean(jnp.square(pred - target))


def l1(pred: jax.Array, target: jax.Array) -> jax.Array:
  return jnp.mean(jnp.abs(pred - target))


LOSSES: dict[str, Loss] = {'mse': mse, 'l1': l1}


def get_loss(name: str) -> Loss:
  if name not in LOSSES:
    raise UserError(f'Unknown fit.loss {name!r}; choose one of '
                    f'{sorted(LOSSES)}.')
  return LOSSES[name]
