"""What the fit engine needs of a model, and helpers over any model.

Any Flax module with these methods fits through `dd_jax.fitting` (the deep
decoder, DIP's skip net, or a user module wrapping one of them):

    z = model.init_input(key_z, y)             # the fixed input, one image
    variables = model.init(key_params, z)      # {'params': ...}
    x = model.apply(variables, z)              # the image [H, W, C]
"""

from typing import Any, Protocol, runtime_checkable

import jax


@runtime_checkable
class ImageModel(Protocol):
  """A model of ONE image from a fixed input z (batch with jax.vmap)."""

  def init_input(self, key: jax.Array, y: jax.Array | None = None
                 ) -> jax.Array:
    """The fixed input z; y is the measurement (some inputs are built from it)."""

  def init(self, key: jax.Array, z: jax.Array) -> Any:
    """The variables {'params': ...} (Flax's `Module.init`)."""

  def apply(self, variables: Any, z: jax.Array) -> jax.Array:
    """The image `[H, W, C]` (Flax's `Module.apply`)."""

  def describe(self) -> str:
    """A one-line description for logs."""


def param_count(variables: Any) -> int:
  """The number of scalars in a pytree of arrays (or of shapes)."""
  return int(sum(x.size for x in jax.tree.leaves(variables)))


def summary_table(model, z: jax.Array) -> str:
  """nn.tabulate's per-layer table of `model` on the input z (shapes only;
  of the module inside a wrapper such as `Pretrained`)."""
  import flax.linen as nn
  return nn.tabulate(getattr(model, 'module', model), jax.random.key(0), depth=None,
                     console_kwargs={'width': 120, 'force_terminal': False,
                                     'no_color': True})(z)
