"""Activation functions by name, shared by every model."""

import jax
import jax.numpy as jnp

from dd_jax.errors import UserError


def _leaky(slope):
  return lambda x: jax.nn.leaky_relu(x, slope)


# name -> (slope -> activation); only leaky_relu uses the slope.
ACTIVATIONS = {
    'relu': lambda s: jax.nn.relu,
    'leaky_relu': _leaky,
    'relu6': lambda s: jax.nn.relu6,
    'elu': lambda s: jax.nn.elu,
    'sigmoid': lambda s: jax.nn.sigmoid,
    'swish': lambda s: jax.nn.silu,
    'silu': lambda s: jax.nn.silu,
    'tanh': lambda s: jnp.tanh,
}

def get_activation(name: str, slope: float = 0.2):
  if name not in ACTIVATIONS:
    raise UserError(f'Unknown model.activation {name!r}; choose one of '
                    f'{sorted(ACTIVATIONS)}.')
  return ACTIVATIONS[name](slope)
