"""Deep Image Prior's "skip" hourglass network (REFERENCE.md section 4).

Per scale i (full resolution first), with x the scale's input:

    deeper = act(norm(conv3x3_stride2(x)));  deeper = act(norm(conv3x3(deeper)))
    deeper = scale_{i+1}(deeper)          (all but the last scale)
    deeper = upsample(deeper) to x's size (exact size: any H x W works)
    cat    = norm([act(norm(conv1x1_skip(x))), deeper])   (skip channels first)
    out_i  = act(norm(conv3x3(cat)));  out_i = act(norm(conv1x1(out_i)))

then a 1x1 head + sigmoid. Convs have biases and reflection padding, norm is
the per-image channel normalization with learned gamma/beta (BatchNorm with
batch 1), act is LeakyReLU(0.2). Input: 32 channels of U[0, 0.1) at full
resolution. Init as PyTorch: weights and biases U(+-1/sqrt(fan_in)).

    spec = DipSpec.from_config(config.model, (H, W, C))
    params = spec.init(key); z = spec.init_input(key); x = spec.apply(params, z)
"""

import dataclasses
import math
from typing import Any, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from dd_jax.models import layers
from dd_jax.models import upsample as upsample_lib
from dd_jax.models.activations import get_activation
from dd_jax.errors import UserError

Params = dict[str, Any]


@dataclasses.dataclass(frozen=True)
class DipSpec:
  """Static architecture of DIP's skip network (hashable)."""
  out_channels: int
  output_hw: tuple[int, int]
  input_channels: int = 32
  channels_down: tuple[int, ...] = (128,) * 5
  channels_up: tuple[int, ...] = (128,) * 5
  channels_skip: tuple[int, ...] = (4,) * 5
  filter_down: int = 3
  filter_up: int = 3
  filter_skip: int = 1
  upsample: str = 'bilinear'
  activation: str = 'leaky_relu'
  leaky_slope: float = 0.2
  need_1x1_up: bool = True
  input_scale: float = 0.1
  input_kind: str = 'uniform'

  @property
  def scales(self) -> int:
    return len(self.channels_down)

  @property
  def sizes(self) -> tuple[tuple[int, int], ...]:
    """Input size of every scale; stride-2 convs give ceil(S / 2)."""
    out = [tuple(self.output_hw)]
    for _ in range(self.scales):
      out.append((math.ceil(out[-1][0] / 2), math.ceil(out[-1][1] / 2)))
    return tuple(out)

  @property
  def input_shape(self) -> tuple[int, int, int]:
    return (*self.output_hw, self.input_channels)

  @classmethod
  def from_config(cls, cfg, image_shape: Sequence[int]) -> 'DipSpec':
    d = cfg.get('dip', None) or {}
    get = lambda name, default: d.get(name, default)
    scales = int(get('scales', 5))
    widths = lambda name, default: tuple(
        int(v) for v in (get(name, None) or (default,) * scales))
    spec = cls(
        out_channels=int(image_shape[2]),
        output_hw=(int(image_shape[0]), int(image_shape[1])),
        input_channels=int(get('input_channels', 32)),
        channels_down=widths('channels_down', 128),
        channels_up=widths('channels_up', 128),
        channels_skip=widths('channels_skip', 4),
        filter_down=int(get('filter_down', 3)),
        filter_up=int(get('filter_up', 3)),
        filter_skip=int(get('filter_skip', 1)),
        upsample=str(cfg.get('upsample', 'bilinear')),
        activation=str(cfg.get('activation', 'leaky_relu')),
        leaky_slope=float(cfg.get('leaky_slope', 0.2)),
        need_1x1_up=bool(get('need_1x1_up', True)),
        input_scale=float(cfg.get('input_scale', 0.1)),
        input_kind=str(cfg.get('input_kind', 'uniform')))
    spec.check()
    return spec

  @staticmethod
  def size_multiple(cfg) -> int:
    del cfg
    return 1  # Upsampling goes to each skip's exact size.

  def check(self):
    get_activation(self.activation, self.leaky_slope)
    if not (len(self.channels_down) == len(self.channels_up) ==
            len(self.channels_skip) >= 1):
      raise UserError('model.dip.channels_down, channels_up and channels_skip '
                      'need the same length (the number of scales).')
    if self.upsample not in upsample_lib.FIXED_KINDS:
      raise UserError(f'DIP upsamples with a fixed kind; model.upsample must '
                      f'be one of {list(upsample_lib.FIXED_KINDS)}.')
    if self.input_kind not in ('uniform', 'meshgrid'):
      raise UserError("DIP's model.input_kind must be 'uniform' or "
                      "'meshgrid'.")
    for f in (self.filter_down, self.filter_up, self.filter_skip):
      if f < 1 or f % 2 == 0:
        raise UserError(f'DIP filter sizes must be odd, got {f}.')
    r = max(self.filter_down, self.filter_up) // 2
    if min(self.sizes[-2]) <= r:
      raise UserError(
          f'Image {self.output_hw[0]}x{self.output_hw[1]} is too small for '
          f'{self.scales} DIP scales (the coarsest is {self.sizes[-2]}); use '
          f'fewer scales (model.dip.scales).')

  def convs(self):
    """(name, p, c_in, c_out) of every conv, scale by scale, then the head."""
    out, c_in = [], self.input_channels
    for i in range(self.scales):
      cd, cu, cs = (self.channels_down[i], self.channels_up[i],
                    self.channels_skip[i])
      k = self.channels_up[i + 1] if i < self.scales - 1 else cd
      if cs:
        out.append((f'{i}/skip', self.filter_skip, c_in, cs))
      out.append((f'{i}/down1', self.filter_down, c_in, cd))
      out.append((f'{i}/down2', self.filter_down, cd, cd))
      out.append((f'{i}/up', self.filter_up, cs + k, cu))
      if self.need_1x1_up:
        out.append((f'{i}/up1x1', 1, cu, cu))
      c_in = cd
    out.append(('head', 1, self.channels_up[0], self.out_channels))
    return out

  def init(self, key):
    return init(key, self)

  def init_input(self, key, y=None):
    del y
    noise = jax.random.uniform(key, self.input_shape, jnp.float32, 0.0,
                               self.input_scale)
    if self.input_kind == 'uniform':
      return noise
    h, w = self.output_hw
    yy, xx = jnp.meshgrid(jnp.linspace(0.0, 1.0, h), jnp.linspace(0.0, 1.0, w),
                          indexing='ij')
    grid = jnp.stack([xx, yy], axis=-1)[..., :self.input_channels]
    return jnp.concatenate([grid, noise[..., grid.shape[2]:]], axis=-1)

  def apply(self, params, z):
    return apply(params, z, self)

  def num_params(self) -> int:
    return num_params(self)

  def describe(self) -> str:
    return (f'DIP skip net, {self.scales} scales, down {self.channels_down[0]}'
            f' / up {self.channels_up[0]} / skip {self.channels_skip[0]} '
            f'channels')


def num_params(spec: DipSpec) -> int:
  """Conv weights + biases, and gamma/beta of every normalization."""
  total = 0
  for name, p, ci, co in spec.convs():
    total += p * p * ci * co + co
    if name != 'head':
      total += 2 * co           # The norm after the conv.
  for i in range(spec.scales):  # The norm over the concatenation.
    k = (spec.channels_up[i + 1] if i < spec.scales - 1
         else spec.channels_down[i])
    total += 2 * (spec.channels_skip[i] + k)
  return total


def init(key: jax.Array, spec: DipSpec) -> Params:
  convs = spec.convs()
  keys = jax.random.split(key, len(convs))
  params = {}
  for k, (name, p, ci, co) in zip(keys, convs):
    kw, kb = jax.random.split(k)
    bound = 1.0 / np.sqrt(ci * p * p)
    layer = {'w': jax.random.uniform(kw, (p, p, ci, co), jnp.float32, -bound,
                                     bound),
             'b': jax.random.uniform(kb, (co,), jnp.float32, -bound, bound)}
    if name != 'head':
      layer['gamma'] = jnp.ones((co,), jnp.float32)
      layer['beta'] = jnp.zeros((co,), jnp.float32)
    params[name] = layer
  for i in range(spec.scales):
    k = (spec.channels_up[i + 1] if i < spec.scales - 1
         else spec.channels_down[i])
    c = spec.channels_skip[i] + k
    params[f'{i}/cat_norm'] = {'gamma': jnp.ones((c,), jnp.float32),
                               'beta': jnp.zeros((c,), jnp.float32)}
  return params


def _conv(x, layer, stride=1):
  return layers.conv(x, layer['w'], stride) + layer['b']


def apply(params: Params, z: jax.Array, spec: DipSpec) -> jax.Array:
  """The skip network's image `[H, W, C]` in (0, 1) from input z `[H, W, 32]`."""
  act = get_activation(spec.activation, spec.leaky_slope)

  def block(x, name, stride=1):
    layer = params[name]
    return act(layers.channel_norm(_conv(x, layer, stride), layer['gamma'],
                                   layer['beta']))

  def scale(x, i):
    deeper = block(x, f'{i}/down1', stride=2)
    deeper = block(deeper, f'{i}/down2')
    if i < spec.scales - 1:
      deeper = scale(deeper, i + 1)
    deeper = upsample_lib.resize(deeper, x.shape[:2], spec.upsample)
    if spec.channels_skip[i]:
      deeper = jnp.concatenate([block(x, f'{i}/skip'), deeper], axis=-1)
    norm = params[f'{i}/cat_norm']
    y = layers.channel_norm(deeper, norm['gamma'], norm['beta'])
    y = block(y, f'{i}/up')
    if spec.need_1x1_up:
      y = block(y, f'{i}/up1x1')
    return y

  return jax.nn.sigmoid(_conv(scale(z, 0), params['head']))
