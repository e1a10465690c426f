"""The deep decoder (and its ablation variants) as a Flax linen module.

    model = make_model(config.model, image_shape=(512, 512, 3))
    # or DeepDecoder(channels=(64,) * 7, out_channels=3, output_hw=(512, 512))
    z = model.init_input(key_z, y)      # fixed input B0, [H0, W0, k0]
    variables = model.init(key, z)      # {'params': {'layer_0': ..., 'out': ...}}
    x = model.apply(variables, z)       # [H, W, C] in (0, 1) (model.output)
    model.num_params()

Params: `layer_i` = {'w', 'gamma', 'beta'[, 'up']} for hidden layer i, then
`out` = {'w'}. Flax declares the parameters; the pure functions in
`layers.py` compute (the default model runs the hand-written-VJP
`layers.normalized_chain`, `uses_fused_layer`).

Everything is written for ONE image; batch with `jax.vmap` over params and z.
Layer equations, ordering and init follow REFERENCE.md section 1. Variants
(paper secs. 3.1, 6.2, 6.3): p x p hidden convs, upsampling kinds, factors and
exact per-layer sizes, layer orders, activations, normalization, inputs.
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


INPUT_KINDS = ('uniform', 'gaussian', 'meshgrid', 'image')
GAMMA_INITS = ('ones', 'uniform')


def _uniform_init(bound: float):
  return lambda key, shape: jax.random.uniform(key, shape, jnp.float32,
                                               -bound, bound)


class HiddenLayer(nn.Module):
  """The parameters of one hidden layer: {'w', 'gamma', 'beta'[, 'up']}.

  w is `[k_in, k_out]` (p = 1) or `[p, p, k_in, k_out]`, U(+-1/sqrt(fan_in)),
  fan_in = k_in p^2. gamma = 1 (or U(0, 1)), beta = 0. A learned upsampler
  `up` (up_channels > 0) starts as the bilinear kernel.
  """
  k_in: int
  k_out: int
  conv_size: int = 1
  affine: bool = True
  gamma_init: str = 'ones'
  up_channels: int = 0
  factor: int = 2
  transposed_depthwise: bool = True

  @nn.compact
  def __call__(self) -> Params:
    p = self.conv_size
    shape = (self.k_in, self.k_out) if p == 1 else (p, p, self.k_in,
                                                    self.k_out)
    out = {'w': self.param('w', _uniform_init(1.0 / np.sqrt(self.k_in * p * p)),
                           shape)}
    if self.affine:
      gamma_fn = (nn.initializers.ones if self.gamma_init == 'ones' else
                  lambda key, shape: jax.random.uniform(key, shape,
                                                        jnp.float32))
      out['gamma'] = self.param('gamma', gamma_fn, (self.k_out,))
      out['beta'] = self.param('beta', nn.initializers.zeros, (self.k_out,))
    if self.up_channels:
      c = self.up_channels
      k1 = upsample_lib.bilinear_kernel_1d(self.factor)
      k2 = np.outer(k1, k1).astype(np.float32)
      kernel = (np.repeat(k2[..., None], c, axis=2)
                if self.transposed_depthwise
                else k2[..., None, None] * np.eye(c, dtype=np.float32))
      out['up'] = self.param('up', lambda key: jnp.asarray(kernel))
    return out


class OutputConv(nn.Module):
  """The output 1x1 conv's weight {'w': [k_d, C]}, U(+-1/sqrt(k_d))."""
  k_in: int
  out_channels: int

  @nn.compact
  def __call__(self) -> Params:
    return {'w': self.param('w', _uniform_init(1.0 / np.sqrt(self.k_in)),
                            (self.k_in, self.out_channels))}


class DeepDecoder(nn.Module):
  """The deep decoder G(C) for ONE image; fields are its hyperparameters.

  channels: widths k_0, ..., k_d: k_0 is the input B0's channel count, k_{i+1}
    the output width of hidden layer i. d = len(channels) - 1.
  out_channels: 1 (gray), 3 (RGB) or 4 (RGBA).
  output_hw: (H, W) of the image produced.
  upsample: a kind of `upsample.ALL_KINDS` ('none', 'bilinear', ...).
  upsample_first: True: conv then upsample, last layer not upsampled (the
    paper). False: the reference's old ordering, upsample then conv, first
    layer not upsampled.
  norm_before_act: normalize before the activation (reference bn_before_act).
  input_scale: B0 ~ U[0, input_scale) (std of the gaussian input).
  fused: use the hand-written-VJP layer where it applies (same numbers).
  conv_size: p of the hidden p x p convs (odd; reflection padding (p-1)/2);
    the output conv stays 1x1.
  factor: upsampling factor per layer.
  upsample_to_size: per-layer sizes ceil(H / f^j) so that any H x W is
    reached exactly (no cropping); False needs H, W multiples of f^(d-1).
  activation / leaky_slope: an `ACTIVATIONS` name, slope of leaky_relu.
  output: the nonlinearity after the output conv, an `OUTPUTS` name:
    'sigmoid' (the paper: values in (0, 1)), 'linear' or 'tanh'.
  norm: per-channel normalization on/off; affine: learned gamma/beta.
  gamma_init: 'ones' (modern PyTorch) or 'uniform' (U(0,1), PyTorch <= 1.1).
  input_kind: an `INPUT_KINDS` name ('image' = the downsampled measurement,
    remaining channels uniform; 'meshgrid' = x, y in [0, 1], rest uniform).
  gaussian_sigma: width of the 'gaussian' upsampler, in input pixels.
  transposed_depthwise: learned upsampler per channel (2f x 2f x k weights)
    or full (2f x 2f x k x k).

  Construction checks the settings (`check`) and raises UserError.
  """
  channels: tuple[int, ...]
  out_channels: int
  output_hw: tuple[int, int]
  upsample: str = 'bilinear'
  upsample_first: bool = True
  norm_before_act: bool = False
  input_scale: float = 0.1
  fused: bool = True
  conv_size: int = 1
  factor: int = 2
  upsample_to_size: bool = False
  activation: str = 'relu'
  leaky_slope: float = 0.2
  output: str = 'sigmoid'
  norm: bool = True
  affine: bool = True
  gamma_init: str = 'ones'
  input_kind: str = 'uniform'
  gaussian_sigma: float = 0.5
  transposed_depthwise: bool = True

  def __post_init__(self):
    super().__post_init__()
    _check(self)

  @property
  def depth(self) -> int:
    return len(self.channels) - 1

  @property
  def num_upsamplings(self) -> int:
    return 0 if self.upsample == upsample_lib.NO_UPSAMPLING else self.depth - 1

  @property
  def sizes(self) -> tuple[tuple[int, int], ...]:
    """Spatial sizes S_0 (input), ..., S_u = (H, W) after each upsampling."""
    u, f = self.num_upsamplings, self.factor
    h, w = self.output_hw
    if self.upsample_to_size:
      out = [(h, w)]
      for _ in range(u):
        out.append((math.ceil(out[-1][0] / f), math.ceil(out[-1][1] / f)))
      return tuple(reversed(out))
    return tuple((h // f ** (u - j), w // f ** (u - j)) for j in range(u + 1))

  @property
  def input_hw(self) -> tuple[int, int]:
    return self.sizes[0]

  @property
  def input_shape(self) -> tuple[int, int, int]:
    return (*self.input_hw, self.channels[0])

  @property
  def uses_fused_layer(self) -> bool:
    return (self.fused and self.upsample_first and
            not self.norm_before_act and self.activation == 'relu' and
            self.norm and self.affine and self.upsample != upsample_lib.LEARNED)

  @staticmethod
  def size_multiple(cfg) -> int:
    """What H and W must be multiples of for this `config.model`."""
    if (cfg.get('upsample', 'bilinear') == upsample_lib.NO_UPSAMPLING or
        cfg.get('upsample_to_size', False)):
      return 1
    d = int(cfg.get('depth', 0)) or len(cfg.channels) - 1
    return int(cfg.get('factor', 2)) ** (d - 1)

  def check(self):
    """Raises UserError for settings the decoder cannot run."""
    _check(self)

  def scale_invariant(self) -> tuple[str, ...]:
    """The layers whose weights `w` the output does not depend on up to a
    positive scale per output channel (up to the norm's eps): each hidden
    layer's, when a channel norm follows it with only linear maps and a
    positively homogeneous activation (relu, leaky_relu) in between."""
    if not self.norm or not (self.norm_before_act or
                             self.activation in ('relu', 'leaky_relu')):
      return ()
    return tuple(f'layer_{i}' for i in range(self.depth))

  def describe(self) -> str:
    return (f'deep decoder channels {tuple(self.channels)}, {self.conv_size}x'
            f'{self.conv_size} convs, {self.upsample} upsampling')

  def num_params(self) -> int:
    """d p^2 k^2 + 2 d k + C_out k for equal widths (+ learned upsamplers)."""
    ks, p = self.channels, self.conv_size
    total = ks[-1] * self.out_channels
    for i in range(self.depth):
      total += p * p * ks[i] * ks[i + 1]
      if self.norm and self.affine:
        total += 2 * ks[i + 1]
      if self.upsample == upsample_lib.LEARNED and _layer_upsamples(self, i):
        c = _up_channels(self, i)
        total += (2 * self.factor) ** 2 * (c if self.transposed_depthwise
                                           else c * c)
    return total

  def init_input(self, key: jax.Array, y=None) -> jax.Array:
    """The fixed network input B0, `[H0, W0, k0]` (see `input_kind`).

    y: the measurement `[h, w, C]`, needed by input_kind 'image'. A plain
    method: works on an unbound module.
    """
    shape = self.input_shape
    kind = self.input_kind
    if kind == 'gaussian':
      return self.input_scale * jax.random.normal(key, shape, jnp.float32)
    noise = jax.random.uniform(key, shape, jnp.float32, 0.0, self.input_scale)
    if kind == 'uniform':
      return noise
    if kind == 'meshgrid':
      h, w = self.input_hw
      yy, xx = jnp.meshgrid(jnp.linspace(0.0, 1.0, h),
                            jnp.linspace(0.0, 1.0, w), indexing='ij')
      grid = jnp.stack([xx, yy], axis=-1)[..., :shape[2]]
      return jnp.concatenate([grid, noise[..., grid.shape[2]:]], axis=-1)
    if y is None:
      raise UserError("model.input_kind='image' needs the measurement; it is "
                      'only available inside a fit.')
    small = jax.image.resize(y.astype(jnp.float32),
                             (*self.input_hw, y.shape[2]), 'linear',
                             antialias=True)[..., :shape[2]]
    return jnp.concatenate([small, noise[..., small.shape[2]:]], axis=-1)

  @nn.compact
  def __call__(self, z: jax.Array, *, features: bool = False):
    """G(C): the image `[H, W, C_out]` (in (0, 1) for output 'sigmoid') from
    the input z `[H0, W0, k0]`.

    features: return the list of hidden-layer outputs instead (`features`).
    """
    hidden = []
    for i in range(self.depth):
      learned = (self.upsample == upsample_lib.LEARNED and
                 _layer_upsamples(self, i))
      hidden.append(HiddenLayer(
          self.channels[i], self.channels[i + 1], self.conv_size,
          self.norm and self.affine, self.gamma_init,
          _up_channels(self, i) if learned else 0, self.factor,
          self.transposed_depthwise, name=f'layer_{i}')())
    params = {'hidden': hidden,
              'out': OutputConv(self.channels[-1], self.out_channels,
                                name='out')()}
    if self.is_initializing() and not features:
      # `init` keeps only the variables: skip the forward pass (eager inits
      # of a 512x512 decoder would otherwise run it op by op).
      return jnp.zeros((*self.output_hw, self.out_channels), jnp.float32)
    if features:
      return list(_hidden_features(params, z, self))
    return _apply(params, z, self)

  def features(self, z: jax.Array) -> list[jax.Array]:
    """The outputs B_1, ..., B_d of the hidden layers, `[H_i, W_i, k_i]`.

    `model.apply(variables, z, method=DeepDecoder.features)`.
    """
    return self(z, features=True)


def _check(self: 'DeepDecoder'):
  """Raises UserError for settings the decoder cannot run.

  A function, not a method: Flax intercepts method calls (nn.tabulate).
  """
  if len(self.channels) < 2 or min(self.channels) < 1:
    raise UserError(f'model.channels must list d+1 >= 2 positive widths, '
                    f'got {tuple(self.channels)}.')
  if self.upsample not in upsample_lib.ALL_KINDS:
    raise UserError(f'Unknown model.upsample {self.upsample!r}; choose one '
                    f'of {upsample_lib.ALL_KINDS}.')
  get_activation(self.activation, self.leaky_slope)
  get_output(self.output)
  if self.input_kind not in INPUT_KINDS:
    raise UserError(f'Unknown model.input_kind {self.input_kind!r}; choose '
                    f'one of {list(INPUT_KINDS)}.')
  if self.gamma_init not in GAMMA_INITS:
    raise UserError(f'Unknown model.gamma_init {self.gamma_init!r}; choose '
                    f'one of {list(GAMMA_INITS)}.')
  if self.conv_size < 1 or self.conv_size % 2 == 0:
    raise UserError(f'model.conv_size must be odd and positive (1, 3, 5, '
                    f'...), got {self.conv_size}.')
  if self.factor < 2:
    raise UserError(f'model.factor must be >= 2, got {self.factor}.')
  _check_size(self)


def _check_size(self: 'DeepDecoder'):
  f = self.factor ** self.num_upsamplings
  h, w = self.output_hw
  if not self.upsample_to_size and (h % f or w % f):
    raise UserError(
        f'Image size {h}x{w} is not a multiple of f^(d-1) = {f} for depth '
        f'd={self.depth}; set model.upsample_to_size=True (exact sizes, no '
        f'cropping), crop the image (data.crop=True) or use a smaller '
        f'model.depth.')
  sizes = self.sizes
  r = (self.conv_size - 1) // 2
  if min(sizes[0]) <= r:
    raise UserError(f'The input B0 is {sizes[0][0]}x{sizes[0][1]} pixels, '
                    f'too small for {self.conv_size}x{self.conv_size} '
                    f'reflection-padded convs; use a smaller depth.')
  if self.upsample == upsample_lib.LEARNED:
    for a, b in zip(sizes[:-1], sizes[1:]):
      if b != (a[0] * self.factor, a[1] * self.factor):
        raise UserError('model.upsample=transposed needs H, W multiples of '
                        'f^(d-1); crop the image or pick a fixed kind.')


def _layer_upsamples(spec: 'DeepDecoder', i: int) -> bool:
  if spec.upsample == upsample_lib.NO_UPSAMPLING:
    return False
  return i != spec.depth - 1 if spec.upsample_first else i != 0


def _layer_sizes(spec: 'DeepDecoder', i: int):
  """(size before, size after) the upsampling of an upsampling layer i."""
  j = i if spec.upsample_first else i - 1  # Upsamplings done before layer i.
  return spec.sizes[j], spec.sizes[j + 1]


def _up_channels(spec: 'DeepDecoder', i: int) -> int:
  """Channels at the point where layer i upsamples."""
  return spec.channels[i + 1] if spec.upsample_first else spec.channels[i]


def _make_up(spec: 'DeepDecoder', i: int, layer):
  """The upsampling map of hidden layer i (None if it does not upsample)."""
  if not _layer_upsamples(spec, i):
    return None
  if spec.upsample == upsample_lib.LEARNED:
    return lambda x: upsample_lib.transposed_up(
        x, layer['up'], spec.factor, spec.transposed_depthwise)
  before, after = _layer_sizes(spec, i)
  if after == (2 * before[0], 2 * before[1]) and (
      spec.upsample in upsample_lib.UPSAMPLERS):
    return upsample_lib.UPSAMPLERS[spec.upsample]  # The fast x2 stencils.
  return upsample_lib.make_resizer(spec.upsample, after, spec.gaussian_sigma)


def _hidden_features(params: Params, z: jax.Array, spec: 'DeepDecoder'):
  """Yields the output B_{i+1} of every hidden layer, `[H_i, W_i, k_{i+1}]`."""
  if spec.uses_fused_layer:
    for r, scale, shift in _folded_chain(params, z, spec):
      yield r * scale + shift
    return
  x = z
  act = get_activation(spec.activation, spec.leaky_slope)
  for i, layer in enumerate(params['hidden']):
    up = _make_up(spec, i, layer)
    if up is not None and not spec.upsample_first:
      x = up(x)
    x = layers.conv(x, layer['w'])
    if up is not None and spec.upsample_first:
      x = up(x)
    if spec.norm:
      norm = lambda v: layers.channel_norm(v, layer.get('gamma', 1.0),
                                           layer.get('beta', 0.0))
    else:
      norm = lambda v: v
    x = act(norm(x)) if spec.norm_before_act else norm(act(x))
    yield x


def _apply(params: Params, z: jax.Array, spec: 'DeepDecoder') -> jax.Array:
  """G(C): the decoder's image `[H, W, C_out]`, through `spec.output`."""
  w, out = params['out']['w'], get_output(spec.output)
  if spec.uses_fused_layer:  # The last normalization folded into the output conv.
    for r, scale, shift in _folded_chain(params, z, spec):
      pass
    return out(layers.conv1x1(r, scale[:, None] * w) + shift @ w)
  x = z
  for x in _hidden_features(params, z, spec):
    pass
  return out(layers.conv1x1(x, w))


def _folded_chain(params: Params, z: jax.Array, spec: 'DeepDecoder'):
  ups = [_make_up(spec, i, layer) for i, layer in enumerate(params['hidden'])]
  return layers.normalized_chain(z, params['hidden'], ups)
