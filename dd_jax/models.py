"""The deep decoder as pure functions on a params pytree.

    spec = DecoderSpec.from_config(config.model, image_shape=(512, 512, 3))
    params = init(key, spec)            # {'hidden': [...], 'out': {...}}
    z = init_input(key, spec)           # fixed input B0, [H0, W0, k0]
    x = apply(params, z, spec)          # [H, W, C] in (0, 1)

Everything is written for ONE image; batch with `jax.vmap` over params and z.
Layer equations, ordering and init follow REFERENCE.md section 1.
"""

import dataclasses
from typing import Any, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from dd_jax import layers
from dd_jax import upsample as upsample_lib

Params = dict[str, Any]


@dataclasses.dataclass(frozen=True)
class DecoderSpec:
  """Static architecture of a deep decoder (hashable; safe as a jit static).

  channels: widths k_0, ..., k_d: k_0 is the input B0's channel count, k_{i+1}
    the output width of hidden layer i. d = len(channels) - 1.
  out_channels: 1 (gray), 3 (RGB) or 4 (RGBA).
  output_hw: (H, W) of the image produced.
  upsample: an `upsample.UPSAMPLERS` name, or 'none'.
  upsample_first: True: conv then upsample, last layer not upsampled (the
    paper). False: the reference's old ordering, upsample then conv, first
    layer not upsampled.
  norm_before_act: normalize before the ReLU (reference flag bn_before_act).
  input_scale: B0 ~ U[0, input_scale).
  fused: use the hand-written-VJP layer where it applies (same numbers).
  """
  channels: tuple[int, ...]
  out_channels: int
  output_hw: tuple[int, int]
  upsample: str = 'bilinear'
  upsample_first: bool = True
  norm_before_act: bool = False
  input_scale: float = 0.1
  fused: bool = True

  @property
  def depth(self) -> int:
    return len(self.channels) - 1

  @property
  def num_upsamplings(self) -> int:
    return 0 if self.upsample == upsample_lib.NO_UPSAMPLING else self.depth - 1

  @property
  def input_hw(self) -> tuple[int, int]:
    f = 2 ** self.num_upsamplings
    return self.output_hw[0] // f, self.output_hw[1] // f

  @property
  def input_shape(self) -> tuple[int, int, int]:
    return (*self.input_hw, self.channels[0])

  @classmethod
  def from_config(cls, cfg, image_shape: Sequence[int]) -> 'DecoderSpec':
    """Builds the spec from a `config.model` section and an `[H, W, C]`."""
    if cfg.get('channels'):
      channels = tuple(int(c) for c in cfg.channels)
    else:
      channels = (int(cfg.k),) * (int(cfg.depth) + 1)
    if len(channels) < 2 or min(channels) < 1:
      raise ValueError(f'model.channels must list d+1 >= 2 positive widths, '
                       f'got {channels}.')
    kind = cfg.get('upsample', 'bilinear')
    if kind != upsample_lib.NO_UPSAMPLING:
      upsample_lib.get_upsampler(kind)  # Validates the name.
    spec = cls(channels=channels, out_channels=int(image_shape[2]),
               output_hw=(int(image_shape[0]), int(image_shape[1])),
               upsample=kind,
               upsample_first=bool(cfg.get('upsample_first', True)),
               norm_before_act=bool(cfg.get('norm_before_act', False)),
               input_scale=float(cfg.get('input_scale', 0.1)),
               fused=bool(cfg.get('fused', True)))
    spec.check_size()
    return spec

  def check_size(self):
    f = 2 ** self.num_upsamplings
    h, w = self.output_hw
    if h % f or w % f:
      raise ValueError(
          f'Image size {h}x{w} is not a multiple of 2^(d-1) = {f} for depth '
          f'd={self.depth}; crop the image (data.crop=True does it) or use a '
          f'smaller model.depth.')


def num_params(spec: DecoderSpec) -> int:
  """d k^2 + 2 d k + C_out k for equal widths (1x1 convs, affine norm)."""
  ks = spec.channels
  hidden = sum(ks[i] * ks[i + 1] + 2 * ks[i + 1] for i in range(spec.depth))
  return hidden + ks[-1] * spec.out_channels


def _uniform(key, shape, bound):
  return jax.random.uniform(key, shape, jnp.float32, -bound, bound)


def init(key: jax.Array, spec: DecoderSpec) -> Params:
  """Weights U(-1/sqrt(fan_in), 1/sqrt(fan_in)), gamma = 1, beta = 0."""
  keys = jax.random.split(key, spec.depth + 1)
  hidden = []
  for i in range(spec.depth):
    k_in, k_out = spec.channels[i], spec.channels[i + 1]
    hidden.append({
        'w': _uniform(keys[i], (k_in, k_out), 1.0 / np.sqrt(k_in)),
        'gamma': jnp.ones((k_out,), jnp.float32),
        'beta': jnp.zeros((k_out,), jnp.float32),
    })
  k_last = spec.channels[-1]
  out = {'w': _uniform(keys[-1], (k_last, spec.out_channels),
                       1.0 / np.sqrt(k_last))}
  return {'hidden': hidden, 'out': out}


def init_input(key: jax.Array, spec: DecoderSpec) -> jax.Array:
  """The fixed network input B0 ~ U[0, input_scale), `[H0, W0, k0]`."""
  return jax.random.uniform(key, spec.input_shape, jnp.float32, 0.0,
                            spec.input_scale)


def _layer_upsamples(spec: DecoderSpec, i: int) -> bool:
  if spec.upsample == upsample_lib.NO_UPSAMPLING:
    return False
  return i != spec.depth - 1 if spec.upsample_first else i != 0


def hidden_features(params: Params, z: jax.Array, spec: DecoderSpec):
  """Yields the output B_{i+1} of every hidden layer, `[H_i, W_i, k_{i+1}]`."""
  x = z
  up_fn = (None if spec.upsample == upsample_lib.NO_UPSAMPLING
           else upsample_lib.get_upsampler(spec.upsample))
  for i, layer in enumerate(params['hidden']):
    up = up_fn if _layer_upsamples(spec, i) else None
    if spec.fused and spec.upsample_first and not spec.norm_before_act:
      x = layers.hidden_layer(x, layer['w'], layer['gamma'], layer['beta'], up)
    else:
      if up is not None and not spec.upsample_first:
        x = up(x)
      x = layers.conv1x1(x, layer['w'])
      if up is not None and spec.upsample_first:
        x = up(x)
      if spec.norm_before_act:
        x = jax.nn.relu(layers.channel_norm(x, layer['gamma'], layer['beta']))
      else:
        x = layers.channel_norm(jax.nn.relu(x), layer['gamma'], layer['beta'])
    yield x


def apply(params: Params, z: jax.Array, spec: DecoderSpec) -> jax.Array:
  """G(C): the decoder's image `[H, W, C_out]` in (0, 1)."""
  x = z
  for x in hidden_features(params, z, spec):
    pass
  return jax.nn.sigmoid(layers.conv1x1(x, params['out']['w']))
