"""Activation functions and output nonlinearities by name, shared by every model."""

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


# model.output: the nonlinearity after the last conv. sigmoid keeps the image
# in (0, 1) (the paper); linear and tanh also give negative values, e.g. the
# real and imaginary parts of a complex image (data.complex).
OUTPUTS = {
    'sigmoid': jax.nn.sigmoid,
    'linear': lambda x: x,
    'tanh': jnp.tanh,
}


def get_output(name: str):
  if name not in OUTPUTS:
    raise UserError(f'Unknown model.output {name!r}; choose one of '
                    f'{sorted(OUTPUTS)}.')
  return OUTPUTS[name]
