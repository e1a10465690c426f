"""The image models: the deep decoder, DIP's skip network, their layers.

  decoder.py      the deep decoder and its ablation variants
  dip.py          Deep Image Prior's skip network
  layers.py       1x1 / p x p convs, channel norm, the fused hidden layer
  upsample.py     upsampling kinds (fixed stencils, resizers, learned)
  activations.py  activation functions and output nonlinearities by name
  pretrained.py   saved initial weights (model.init_from): save, load, start
  width.py        automatic width (model.k = 0): k from the noise level

  base.py         `ImageModel` (what the fit engine needs), param_count,
                  summary_table

The models are Flax linen modules (`DeepDecoder`, `Dip`); `MODELS` maps
`config.model.name` to one, `make_model(config.model, image_shape)` builds it
(a `Pretrained` wrapper of it when `config.model.init_from` names saved
weights).
"""

from typing import Sequence

from dd_jax import configurable
from dd_jax.errors import UserError
from dd_jax.models.activations import (ACTIVATIONS, OUTPUTS, get_activation,
                                       get_output)
from dd_jax.models.base import ImageModel, param_count, summary_table
from dd_jax.models.decoder import DeepDecoder, GAMMA_INITS, INPUT_KINDS
from dd_jax.models.dip import Dip
from dd_jax.models import pretrained
from dd_jax.models import width
from dd_jax.models.pretrained import Pretrained, load_init, save_init

__all__ = ['ACTIVATIONS', 'DIP_SHARED', 'Dip', 'DeepDecoder', 'GAMMA_INITS',
           'INPUT_KINDS', 'ImageModel', 'MODELS', 'OUTPUTS', 'Pretrained',
           'get_activation', 'get_output', 'load_init', 'make_model',
           'param_count', 'save_init', 'size_multiple', 'summary_table', 'width']

MODELS = {
    'deep_decoder': DeepDecoder,
    'dip': Dip,
}

# config.model entries that are not fields of the DeepDecoder: k and depth
# are shortcuts for channels (k,) * (depth + 1); init_from names saved
# initial weights (pretrained.py).
_DECODER_EXTRA = ('name', 'k', 'depth', 'channels', 'init_from')
# Dip's fields shared with the deep decoder's section of config.model.
DIP_SHARED = ('upsample', 'activation', 'leaky_slope', 'input_scale',
              'input_kind', 'output')


def _model_class(cfg):
  name = cfg.get('name', 'deep_decoder')
  if name not in MODELS:
    raise UserError(f'Unknown model.name {name!r}; choose one of '
                    f'{sorted(MODELS)}.')
  return MODELS[name]


def _typed(cls, kwargs):
  """Casts config values to the type of the field's default (int -> float)."""
  defaults = configurable.defaults(cls)
  for key, value in kwargs.items():
    d = defaults.get(key)
    if isinstance(d, bool):
      kwargs[key] = bool(value)
    elif isinstance(d, (int, float, str)) and value is not None:
      kwargs[key] = type(d)(value)
  return kwargs


def make_model(cfg, image_shape: Sequence[int]):
  """The module `MODELS[cfg.name]` for images `[H, W, C]` from `config.model`.

  Unknown fields of the section fail with the list of valid ones. With
  `cfg.init_from` (a saved init's folder) the module is wrapped in a
  `Pretrained` that starts from those weights, checked against it here.
  """
  module = _make_module(cfg, image_shape)
  if cfg.get('init_from'):
    return pretrained.pretrained(module, str(cfg.init_from))
  return module


def _make_module(cfg, image_shape):
  cls = _model_class(cfg)
  shape = dict(out_channels=int(image_shape[2]),
               output_hw=(int(image_shape[0]), int(image_shape[1])))
  if cls is Dip:
    return _make_dip(cfg, shape)
  if cfg.get('channels'):
    channels = tuple(int(c) for c in cfg.channels)
  elif width.is_auto(cfg):
    raise UserError('model.k=0 (automatic width) is picked per measurement '
                    'by the fit engine (dd_jax.fit_images); to build a model '
                    'yourself, give k: models.width.with_k(config.model, k).')
  else:
    channels = (int(cfg.k),) * (int(cfg.depth) + 1)
  kwargs = configurable.kwargs_for(DeepDecoder, cfg, 'model',
                                   ignore=_DECODER_EXTRA + ('dip',))
  return DeepDecoder(channels=channels, **_typed(DeepDecoder, kwargs), **shape)


def _make_dip(cfg, shape):
  kwargs = configurable.kwargs_for(
      Dip, cfg.get('dip', None), 'model.dip',
      ignore=('scales',) + DIP_SHARED)
  scales = int(configurable.as_dict(cfg.get('dip', None)).get(
      'scales', len(configurable.defaults(Dip)['channels_down'])))
  for name in ('channels_down', 'channels_up', 'channels_skip'):
    if not kwargs.get(name):
      kwargs[name] = (configurable.defaults(Dip)[name][0],) * scales
    kwargs[name] = tuple(int(v) for v in kwargs[name])
  for name in DIP_SHARED:
    if name in cfg:
      kwargs[name] = cfg[name]
  return Dip(**_typed(Dip, kwargs), **shape)


def size_multiple(cfg) -> int:
  """What image sides must be multiples of for the model in `cfg`."""
  return _model_class(cfg).size_multiple(cfg)
