"""The image models: the deep decoder, DIP's skip network, their layers.

  decoder.py      the deep decoder and its ablation variants
  dip.py          Deep Image Prior's skip network
  layers.py       1x1 / p x p convs, channel norm, the fused hidden layer
  upsample.py     upsampling kinds (fixed stencils, resizers, learned)
  activations.py  activation functions by name

`MODELS` maps `config.model.name` to a model class; `make_model` builds one.
"""

from typing import Sequence

from dd_jax.errors import UserError
from dd_jax.models import dip
from dd_jax.models.activations import ACTIVATIONS, get_activation
from dd_jax.models.decoder import (DecoderSpec, GAMMA_INITS, INPUT_KINDS,
                                   apply, hidden_features, init, init_input,
                                   num_params)
from dd_jax.models.layers import conv

MODELS = {
    'deep_decoder': DecoderSpec,
    'dip': dip.DipSpec,
}


def _model_class(cfg):
  name = cfg.get('name', 'deep_decoder')
  if name not in MODELS:
    raise UserError(f'Unknown model.name {name!r}; choose one of '
                    f'{sorted(MODELS)}.')
  return MODELS[name]


def make_model(cfg, image_shape: Sequence[int]):
  """The spec of `MODELS[cfg.name]` for images `[H, W, C]`."""
  return _model_class(cfg).from_config(cfg, image_shape)


def size_multiple(cfg) -> int:
  """What image sides must be multiples of for the model in `cfg`."""
  return _model_class(cfg).size_multiple(cfg)
