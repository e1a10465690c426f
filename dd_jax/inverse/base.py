"""The `Operator` every inverse problem builds, and the identity (denoising).

An operator works on ONE image `[H, W, C]`: a pure `forward(x, aux)` plus
`make_aux(key, i)`, which draws the per-image operator data (a random mask,
say) that is vmapped along with the image.
"""

import dataclasses
from typing import Any, Callable

import jax
import jax.numpy as jnp

from dd_jax.io import images as images_lib

Aux = Any


@dataclasses.dataclass(frozen=True)
class Operator:
  """A linear forward operator for images of one shape.

  forward: (x [H, W, C], aux) -> y, pure and jit-able.
  make_aux: (key, image_index) -> aux, the per-image operator data (a pytree
    of arrays; `{}` for none).
  measurement_shape: shape of y.
  image_shape: shape of x.
  weight: optional aux -> loss weight broadcastable to y (1 = the entry is
    observed); the loss is then normalized by the observed entries.
  clip: y is an image in [0, 1], so noisy measurements may be clipped.
  complex_valued: x is a complex image stored as channel pairs `[H, W, 2C]`
    (channel 2c the real part of complex channel c, 2c + 1 its imaginary
    part; `io.images.to_complex`); metrics and outputs then use its
    magnitude and phase.
  """
  name: str
  forward: Callable[[jax.Array, Aux], jax.Array]
  make_aux: Callable[[jax.Array, int], Aux]
  measurement_shape: tuple[int, ...]
  image_shape: tuple[int, ...] = ()
  weight: Callable[[Aux], jax.Array] | None = None
  clip: bool = True
  complex_valued: bool = False

  def adjoint(self, y: jax.Array, aux: Aux) -> jax.Array:
    """A^T y for ONE measurement (the operator is linear in x; for a
    complex image, A^H y in the channel-pair layout)."""
    x0 = jax.ShapeDtypeStruct(self.image_shape, jnp.float32)
    (x,) = jax.linear_transpose(lambda x: self.forward(x, aux), x0)(y)
    return x


def complex_images(op: Operator) -> Operator:
  """`op`, built for complex images `[H, W, C]`, as an operator on their
  channel pairs `[H, W, 2C]` (real, imaginary: `images.to_complex`), the
  real layout the models emit. op.forward must take complex x (a
  complex-linear operator, e.g. an FFT); the adjoint is then A^H."""
  h, w, c = op.image_shape
  return dataclasses.replace(
      op, forward=lambda x, aux: op.forward(images_lib.to_complex(x), aux),
      image_shape=(h, w, 2 * c), complex_valued=True)


def no_aux(key, index):
  """`make_aux` of an operator without per-image data."""
  del key, index
  return {}


def identity(image_shape) -> Operator:
  """Denoising: A = I."""
  shape = tuple(image_shape)
  return Operator('identity', lambda x, aux: x, no_aux, shape, shape)
