"""Deep Image Prior's "skip" hourglass network (REFERENCE.md section 4).

Per scale i (full resolution first), with x the scale's input:

    deeper = act(norm(conv3x3_stride2(x)));  deeper = act(norm(conv3x3(deeper)))
    deeper = scale_{i+1}(deeper)          (all but the last scale)
    deeper = upsample(deeper) to x's size (exact size: any H x W works)
    cat    = norm([act(norm(conv1x1_skip(x))), deeper])   (skip channels first)
    out_i  = act(norm(conv3x3(cat)));  out_i = act(norm(conv1x1(out_i)))

then a 1x1 head + sigmoid (`output`: or linear, tanh). Convs have biases and
reflection padding, norm is the per-image channel normalization with learned
gamma/beta (BatchNorm with batch 1), act is LeakyReLU(0.2). Input: 32
channels of U[0, 0.1) at full resolution. Init as PyTorch: weights and
biases U(+-1/sqrt(fan_in)).

    model = Dip(out_channels=3, output_hw=(H, W))   # or make_model(...)
    z = model.init_input(key_z); variables = model.init(key, z)
    x = model.apply(variables, z)

Params: `scale_i` = {'skip', 'down1', 'down2', 'up', 'up1x1': {'w', 'b',
'gamma', 'beta'}, 'cat_norm': {'gamma', 'beta'}} per scale, then `head` =
{'w', 'b'}.
"""

import math
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from dd_jax.models import layers
from dd_jax.models import upsample as upsample_lib
from dd_jax.models.activations import get_activation, get_output
from dd_jax.errors import UserError

Params = dict[str, Any]


def _uniform_init(bound: float):
  return lambda key, shape: jax.random.uniform(key, shape, jnp.float32,
                                               -bound, bound)


class ConvNorm(nn.Module):
  """A p x p conv's {'w', 'b'} (U(+-1/sqrt(fan_in))), with norm {'gamma', 'beta'}."""
  p: int
  c_in: int
  c_out: int
  norm: bool = True

  @nn.compact
  def __call__(self) -> Params:
    init = _uniform_init(1.0 / np.sqrt(self.c_in * self.p * self.p))
    out = {'w': self.param('w', init, (self.p, self.p, self.c_in, self.c_out)),
           'b': self.param('b', init, (self.c_out,))}
    if self.norm:
      out['gamma'] = self.param('gamma', nn.initializers.ones, (self.c_out,))
      out['beta'] = self.param('beta', nn.initializers.zeros, (self.c_out,))
    return out


class Norm(nn.Module):
  """A channel normalization's {'gamma': 1, 'beta': 0}."""
  channels: int

  @nn.compact
  def __call__(self) -> Params:
    return {'gamma': self.param('gamma', nn.initializers.ones,
                                (self.channels,)),
            'beta': self.param('beta', nn.initializers.zeros,
                               (self.channels,))}


class DipScale(nn.Module):
  """The parameters of one scale: its convs and the concatenation's norm."""
  convs: tuple[tuple[str, int, int, int], ...]
  cat_channels: int

  @nn.compact
  def __call__(self) -> Params:
    out = {name: ConvNorm(p, ci, co, name=name)()
           for name, p, ci, co in self.convs}
    out['cat_norm'] = Norm(self.cat_channels, name='cat_norm')()
    return out


class Dip(nn.Module):
  """DIP's skip network for ONE image; fields are its hyperparameters.

  channels_down / channels_up / channels_skip: widths per scale (full
  resolution first; the number of scales is their length). filter_*: conv
  sizes (odd). need_1x1_up: the 1x1 conv after each up conv. input_channels,
  input_scale, input_kind ('uniform' | 'meshgrid'): the fixed input z
  `[H, W, input_channels]`. output: the head's nonlinearity, an `OUTPUTS`
  name ('sigmoid', 'linear', 'tanh'). Construction checks the settings
  (UserError).
  """
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
  output: str = 'sigmoid'

  def __post_init__(self):
    super().__post_init__()
    _check(self)

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

  @staticmethod
  def size_multiple(cfg) -> int:
    del cfg
    return 1  # Upsampling goes to each skip's exact size.

  def check(self):
    """Raises UserError for settings the network cannot run."""
    _check(self)

  def convs(self):
    """(scale, name, p, c_in, c_out) of every conv, scale by scale, then the
    head (scale None)."""
    out, c_in = [], self.input_channels
    for i in range(self.scales):
      cd, cu, cs = (self.channels_down[i], self.channels_up[i],
                    self.channels_skip[i])
      k = self.channels_up[i + 1] if i < self.scales - 1 else cd
      if cs:
        out.append((i, 'skip', self.filter_skip, c_in, cs))
      out.append((i, 'down1', self.filter_down, c_in, cd))
      out.append((i, 'down2', self.filter_down, cd, cd))
      out.append((i, 'up', self.filter_up, cs + k, cu))
      if self.need_1x1_up:
        out.append((i, 'up1x1', 1, cu, cu))
      c_in = cd
    out.append((None, 'head', 1, self.channels_up[0], self.out_channels))
    return out

  def init_input(self, key: jax.Array, y=None) -> jax.Array:
    """The fixed input z `[H, W, input_channels]` (y is unused)."""
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

  def num_params(self) -> int:
    """Conv weights + biases, and gamma/beta of every normalization."""
    total = 0
    for i, name, p, ci, co in self.convs():
      total += p * p * ci * co + co
      if i is not None:
        total += 2 * co           # The norm after the conv.
    return total + sum(2 * self._cat_channels(i) for i in range(self.scales))

  def _cat_channels(self, i: int) -> int:
    """Channels of scale i's concatenation (skip + deeper)."""
    k = (self.channels_up[i + 1] if i < self.scales - 1
         else self.channels_down[i])
    return self.channels_skip[i] + k

  @nn.compact
  def __call__(self, z: jax.Array) -> jax.Array:
    """The image `[H, W, C]` in (0, 1) from the input z `[H, W, 32]`."""
    convs = self.convs()
    params = {f'scale_{i}': DipScale(
        tuple(c[1:] for c in convs if c[0] == i), self._cat_channels(i),
        name=f'scale_{i}')() for i in range(self.scales)}
    params['head'] = ConvNorm(*convs[-1][2:], norm=False, name='head')()
    if self.is_initializing():  # `init` keeps only the variables.
      return jnp.zeros((*self.output_hw, self.out_channels), jnp.float32)
    return _apply(params, z, self)

  def describe(self) -> str:
    return (f'DIP skip net, {self.scales} scales, down {self.channels_down[0]}'
            f' / up {self.channels_up[0]} / skip {self.channels_skip[0]} '
            f'channels')


def _check(self: Dip):
  """Raises UserError (a function: Flax intercepts method calls)."""
  get_activation(self.activation, self.leaky_slope)
  get_output(self.output)
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


def _conv(x, layer, stride=1):
  return layers.conv(x, layer['w'], stride) + layer['b']


@jax.custom_vjp
def _bilinear2(x):
  """Bilinear x2 whose VJP is the hand-written transpose (autodiff of the
  stencil makes several passes, benchmarks/README.md lever 3)."""
  return upsample_lib.bilinear2(x)


_bilinear2.defvjp(lambda x: (upsample_lib.bilinear2(x), None),
                  lambda _, d: (upsample_lib.bilinear2_transpose(d),))


def _resize(x, out_hw, kind):
  if kind == 'bilinear' and tuple(out_hw) == (2 * x.shape[0], 2 * x.shape[1]):
    return _bilinear2(x)
  return upsample_lib.resize(x, out_hw, kind)


def _apply(params: Params, z: jax.Array, spec: Dip) -> jax.Array:
  """The skip network's image `[H, W, C]` in (0, 1) from input z `[H, W, 32]`.

  Each conv's normalization + activation is `layers.norm_act` (hand-written
  backward); the concatenation's normalization is folded into the up conv
  that reads it (reflection padding copies values, so every tap sees
  cat * scale + shift): conv(cat * s + t, w) = conv(cat, w * s) + t @ sum w.
  """
  act = get_activation(spec.activation, spec.leaky_slope)

  def block(x, layer, stride=1):
    return layers.norm_act(_conv(x, layer, stride), layer['gamma'],
                           layer['beta'], act)

  def scale(x, i):
    ps = params[f'scale_{i}']
    deeper = block(x, ps['down1'], stride=2)
    deeper = block(deeper, ps['down2'])
    if i < spec.scales - 1:
      deeper = scale(deeper, i + 1)
    deeper = _resize(deeper, x.shape[:2], spec.upsample)
    if spec.channels_skip[i]:
      deeper = jnp.concatenate([block(x, ps['skip']), deeper], axis=-1)
    mean, inv = layers.moments(deeper)
    s = ps['cat_norm']['gamma'] * inv
    t = ps['cat_norm']['beta'] - mean * s
    up = ps['up']
    y = layers.conv(deeper, up['w'] * s[:, None]) + (
        t @ jnp.sum(up['w'], axis=(0, 1)) + up['b'])
    y = layers.norm_act(y, up['gamma'], up['beta'], act)
    if spec.need_1x1_up:
      y = block(y, ps['up1x1'])
    return y

  return get_output(spec.output)(_conv(scale(z, 0), params['head']))
