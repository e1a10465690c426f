"""Forward operators y = A(x) as pure functions on ONE image `[H, W, C]`.

`make_operator(cfg, image_shape)` looks `cfg.name` up in `OPERATORS` and
returns an `Operator`: a pure `forward(x, aux)` plus `make_aux(key, i)`, which
builds the per-image operator data (a mask, say) that is vmapped along with the
image. Adding an operator is one builder function and one registry entry.

Noise (`add_noise`, see dd_jax/noise.py) is applied after the operator to
simulate a measurement. Every operator here is linear; `op.adjoint(y, aux)` is
its transpose (jax.linear_transpose), `least_squares` a CG baseline.

Measurements that are not images: compressive sensing gives a vector `[M]`;
MRI gives k-space with real/imag on a trailing axis, `[H, W, C, 2]` (single
coil) or `[H, W, C, J, 2]` (J coils), zeros where k-space is not sampled.
"""

import dataclasses
import math
import os
from typing import Any, Callable

import jax
import jax.numpy as jnp
import numpy as np

from dd_jax.io import images as data_lib
from dd_jax.errors import UserError

Aux = Any


@dataclasses.dataclass(frozen=True)
class Operator:
  """A forward operator for images of one shape.

  forward: (x [H, W, C], aux) -> y, pure and jit-able.
  make_aux: (key, image_index) -> aux, the per-image operator data (a pytree
    of arrays; `{}` for none).
  measurement_shape: shape of y.
  image_shape: shape of x.
  weight: optional aux -> loss weight broadcastable to y (1 = the entry is
    observed); the loss is then normalized by the observed entries.
  clip: y is an image in [0, 1], so noisy measurements may be clipped.
  """
  name: str
  forward: Callable[[jax.Array, Aux], jax.Array]
  make_aux: Callable[[jax.Array, int], Aux]
  measurement_shape: tuple[int, ...]
  image_shape: tuple[int, ...] = ()
  weight: Callable[[Aux], jax.Array] | None = None
  clip: bool = True

  def adjoint(self, y: jax.Array, aux: Aux) -> jax.Array:
    """A^T y for ONE measurement (the operator is linear in x)."""
    x0 = jax.ShapeDtypeStruct(self.image_shape, jnp.float32)
    (x,) = jax.linear_transpose(lambda x: self.forward(x, aux), x0)(y)
    return x


def _no_aux(key, index):
  del key, index
  return {}


def identity(cfg, image_shape) -> Operator:
  """Denoising: A = I."""
  del cfg
  return Operator('identity', lambda x, aux: x, _no_aux, tuple(image_shape),
                  tuple(image_shape))


# ----------------------------------------------------------------- inpainting
def _random_mask(key, hw, observed):
  return jax.random.uniform(key, hw) < observed


def _block_mask(hw, block):
  h, w = hw
  bh, bw = int(h * block), int(w * block)
  m = np.ones(hw, bool)
  m[(h - bh) // 2:(h + bh) // 2, (w - bw) // 2:(w + bw) // 2] = False
  return m


def text_mask(hw, text: str = 'Deep Decoder', size: int = 0) -> np.ndarray:
  """Lines of `text` over the image; text pixels are unobserved (False)."""
  from PIL import Image, ImageDraw, ImageFont
  h, w = hw
  size = size or max(8, h // 16)
  font = ImageFont.load_default(size=size)
  canvas = Image.new('L', (w, h), 0)
  draw = ImageDraw.Draw(canvas)
  line = ' '.join([text] * (w // max(len(text) * size // 2, 1) + 2))
  for row, top in enumerate(range(size // 2, h, int(size * 1.8))):
    draw.text((-(row * size) % (size * 4) - size * 2, top), line, fill=255,
              font=font)
  return np.asarray(canvas) == 0


def mask(cfg, image_shape) -> Operator:
  """Inpainting: y = x * mask (1 = observed), the mask shared over channels.

  cfg.mask: 'random' (fraction cfg.observed kept, drawn per image), 'block'
  (a centred hole of side cfg.block * side), 'text' (lines of cfg.mask_text)
  or a path to a mask image (nonzero = observed). cfg.normalize: 'observed'
  (the loss averages over observed pixels) or 'all' (the reference: the
  masked loss divided by all pixels).
  """
  hw = tuple(image_shape[:2])
  kind = cfg.get('mask', 'random')
  if kind == 'random':
    observed = float(cfg.get('observed', 0.5))
    if not 0.0 < observed <= 1.0:
      raise UserError(f'operator.observed must be in (0, 1], got {observed}.')
    make = lambda key, i: {'mask': _random_mask(key, hw, observed)}
  else:
    if kind == 'block':
      fixed = _block_mask(hw, float(cfg.get('block', 0.25)))
    elif kind == 'text':
      fixed = text_mask(hw, cfg.get('mask_text', 'Deep Decoder'))
    else:
      fixed = data_lib.load_mask(kind, hw)
    make = lambda key, i: {'mask': jnp.asarray(fixed)}
  normalize = cfg.get('normalize', 'observed')
  if normalize not in ('observed', 'all'):
    raise UserError(f"Unknown operator.normalize {normalize!r}; choose one of "
                    f"['observed', 'all'].")

  def forward(x, aux):
    return x * aux['mask'][..., None].astype(x.dtype)

  weight = ((lambda aux: aux['mask'][..., None].astype(jnp.float32))
            if normalize == 'observed' else None)
  return Operator('mask', forward, make, tuple(image_shape),
                  tuple(image_shape), weight)


# ----------------------------------------------------------- super-resolution
def lanczos2_kernel(factor: int) -> np.ndarray:
  """The 1-D Lanczos-2 kernel of the DIP/DD reference (size 4*factor, phase .5).

  The reference's 2-D kernel is the outer product of this one with itself.
  """
  size = 4 * factor
  center = (size + 2) / 2.0  # (kernel_width + 1) / 2 with kernel_width = 4f+1.
  taps = np.empty(size, np.float64)
  for i in range(1, size + 1):
    d = abs(i + 0.5 - center) / factor
    taps[i - 1] = 1.0 if d == 0 else (
        2 * math.sin(math.pi * d) * math.sin(math.pi * d / 2) /
        (math.pi ** 2 * d ** 2))
  return taps / taps.sum()


def downsample_matrix(n: int, factor: int) -> np.ndarray:
  """`[n / factor, n]` matrix: Lanczos-2 filter, stride `factor`, edge
  replication padding chosen so the output has exactly n / factor samples."""
  taps = lanczos2_kernel(factor)
  pad_lo = (len(taps) - factor) // 2
  m = np.zeros((n // factor, n), np.float64)
  for o in range(n // factor):
    for t, v in enumerate(taps):
      src = min(max(o * factor + t - pad_lo, 0), n - 1)
      m[o, src] += v
  return m


def cubic(t: np.ndarray, a: float = -0.5) -> np.ndarray:
  """Keys' cubic convolution kernel (a = -0.5: Matlab/PIL bicubic)."""
  t = np.abs(t)
  return np.where(t <= 1, (a + 2) * t**3 - (a + 3) * t**2 + 1,
                  np.where(t < 2, a * t**3 - 5 * a * t**2 + 8 * a * t - 4 * a,
                           0.0))


def bicubic_matrix(n: int, factor: int) -> np.ndarray:
  """`[n / factor, n]` antialiased bicubic downsampling (the kernel stretched
  by `factor`, as Matlab imresize and PIL do), edge replication."""
  m = np.zeros((n // factor, n), np.float64)
  for o in range(n // factor):
    center = (o + 0.5) * factor - 0.5
    src = np.arange(math.floor(center - 2 * factor),
                    math.ceil(center + 2 * factor) + 1)
    w = cubic((src - center) / factor)
    for s, v in zip(np.clip(src, 0, n - 1), w / w.sum()):
      m[o, s] += v
  return m


SR_KERNELS = {'lanczos2': downsample_matrix, 'bicubic': bicubic_matrix}


def downsample(cfg, image_shape) -> Operator:
  """Super-resolution: antialiased downsampling by cfg.factor (2, 3, 4, 8...)
  with the cfg.sr_kernel ('lanczos2', the reference's, or 'bicubic')."""
  f = int(cfg.get('factor', 4))
  h, w = image_shape[:2]
  if f < 1 or h % f or w % f:
    raise UserError(f'Image size {h}x{w} is not divisible by the '
                    f'super-resolution factor {f}; crop or resize the image.')
  kind = cfg.get('sr_kernel', 'lanczos2')
  if kind not in SR_KERNELS:
    raise UserError(f'Unknown operator.sr_kernel {kind!r}; choose one of '
                    f'{sorted(SR_KERNELS)}.')
  mh = jnp.asarray(SR_KERNELS[kind](h, f), jnp.float32)
  mw = jnp.asarray(SR_KERNELS[kind](w, f), jnp.float32)

  def forward(x, aux):
    del aux
    return jnp.einsum('ih,hwc,jw->ijc', mh, x, mw)

  return Operator('downsample', forward, _no_aux,
                  (h // f, w // f, image_shape[2]), tuple(image_shape))


# ------------------------------------------------------------------- deblurring
def gaussian_kernel(sigma: float, size: int = 0) -> np.ndarray:
  size = size or 2 * math.ceil(3 * sigma) + 1
  t = np.arange(size) - (size - 1) / 2
  g = np.exp(-0.5 * (t / sigma) ** 2)
  k = np.outer(g, g)
  return k / k.sum()


def motion_kernel(length: int, angle_deg: float) -> np.ndarray:
  """A line of `length` pixels at `angle_deg`, bilinearly rasterized."""
  size = length if length % 2 else length + 1
  k = np.zeros((size, size))
  c = (size - 1) / 2
  a = math.radians(angle_deg)
  for t in np.linspace(-(length - 1) / 2, (length - 1) / 2, 4 * length):
    y, x = c - t * math.sin(a), c + t * math.cos(a)
    y0, x0 = int(math.floor(y)), int(math.floor(x))
    for dy, dx in ((0, 0), (0, 1), (1, 0), (1, 1)):
      yy, xx = y0 + dy, x0 + dx
      if 0 <= yy < size and 0 <= xx < size:
        k[yy, xx] += (1 - abs(y - yy)) * (1 - abs(x - xx))
  return k / k.sum()


def load_kernel(path: str) -> np.ndarray:
  """A blur kernel from an image (gray levels) or .npy file, summing to 1,
  zero-padded to odd sides so it has a centre pixel."""
  if path.endswith('.npy'):
    try:
      k = np.load(path).astype(np.float64)
    except OSError as e:
      raise UserError(f'Cannot read kernel file {path!r}: {e}') from None
  else:
    k = data_lib.load_image(path, 'gray')[..., 0].astype(np.float64)
  if k.ndim != 2 or k.min() < 0 or k.sum() <= 0:
    raise UserError(f'Kernel {path!r} must be a 2-D array of nonnegative '
                    f'values with a positive sum.')
  k = np.pad(k, ((0, 1 - k.shape[0] % 2), (0, 1 - k.shape[1] % 2)))
  return k / k.sum()


def blur_kernel(cfg) -> np.ndarray:
  kind = cfg.get('blur', 'gaussian')
  if kind == 'gaussian':
    return gaussian_kernel(float(cfg.get('blur_sigma', 1.6)),
                           int(cfg.get('blur_size', 0)))
  if kind == 'box':
    n = int(cfg.get('blur_size', 5))
    return np.full((n, n), 1.0 / n**2)
  if kind == 'motion':
    return motion_kernel(int(cfg.get('blur_size', 9)),
                         float(cfg.get('motion_angle', 30.0)))
  if os.path.isfile(kind):
    return load_kernel(kind)
  raise UserError(f"operator.blur {kind!r} is neither 'gaussian', 'box', "
                  f"'motion' nor a kernel file.")


BOUNDARIES = {'circular': 'wrap', 'reflect': 'symmetric', 'zero': 'constant'}


def blur(cfg, image_shape) -> Operator:
  """Deblurring: y = k * x (true convolution, same size as x), every channel
  with the same kernel. Boundary cfg.boundary: 'circular' (periodic, the
  default), 'reflect' (half-sample symmetric, like scipy 'reflect') or 'zero'.
  """
  k = blur_kernel(cfg)
  boundary = cfg.get('boundary', 'circular')
  if boundary not in BOUNDARIES:
    raise UserError(f'Unknown operator.boundary {boundary!r}; choose one of '
                    f'{sorted(BOUNDARIES)}.')
  kh, kw = k.shape
  if kh > image_shape[0] or kw > image_shape[1]:
    raise UserError(f'Blur kernel {kh}x{kw} is larger than the image.')
  c = image_shape[2]
  # conv_general_dilated correlates: flip for a true convolution.
  kern = jnp.asarray(np.tile(k[::-1, ::-1, None, None], (1, 1, 1, c)),
                     jnp.float32)
  pads = ((kh // 2, kh // 2), (kw // 2, kw // 2), (0, 0))

  def forward(x, aux):
    del aux
    xp = jnp.pad(x, pads, mode=BOUNDARIES[boundary])
    y = jax.lax.conv_general_dilated(
        xp[None], kern, (1, 1), 'VALID',
        dimension_numbers=('NHWC', 'HWIO', 'NHWC'), feature_group_count=c,
        precision=jax.lax.Precision.HIGHEST)
    return y[0]

  return Operator('blur', forward, _no_aux, tuple(image_shape),
                  tuple(image_shape))


# -------------------------------------------------------- compressive sensing
def _ratio(cfg) -> float:
  ratio = float(cfg.get('ratio', 4.0))
  if ratio < 1:
    raise UserError(f'operator.ratio (n / m) must be >= 1, got {ratio}.')
  return ratio


def cs_gaussian(cfg, image_shape) -> Operator:
  """Compressive sensing with a blocked Gaussian matrix, never n x n.

  The n = H*W*C entries of x are put in a seeded random order and cut into
  blocks of cfg.cs_block entries (zero-padded); each block is measured by the
  same Gaussian matrix G `[block / ratio, block]`, entries N(0, 1/m_block), so
  A is block diagonal after a permutation and E||Ax||^2 = ||x||^2. y: `[M]`.
  """
  n = int(np.prod(image_shape))
  b = min(int(cfg.get('cs_block', 1024)), n)
  mb = max(1, round(b / _ratio(cfg)))
  rng = np.random.default_rng(int(cfg.get('cs_seed', 0)))
  perm = jnp.asarray(rng.permutation(n))
  g = jnp.asarray(rng.standard_normal((mb, b)) / math.sqrt(mb), jnp.float32)
  nb = -(-n // b)

  def forward(x, aux):
    del aux
    v = jnp.pad(x.reshape(-1)[perm], (0, nb * b - n)).reshape(nb, b)
    return jnp.einsum('mb,kb->km', g, v,
                      precision=jax.lax.Precision.HIGHEST).reshape(-1)

  return Operator('cs_gaussian', forward, _no_aux, (nb * mb,),
                  tuple(image_shape), clip=False)


def cs_conv(cfg, image_shape) -> Operator:
  """Compressive sensing by subsampled random convolution (Romberg 2009):
  circular convolution of every channel with a seeded Gaussian filter
  (FFT, never a matrix), then n / ratio of the H*W*C entries kept at seeded
  random positions. y: `[M]`."""
  h, w, c = image_shape
  n = h * w * c
  m = max(1, round(n / _ratio(cfg)))
  rng = np.random.default_rng(int(cfg.get('cs_seed', 0)))
  filt = rng.standard_normal((h, w)) / math.sqrt(h * w)
  fh = jnp.asarray(np.fft.rfft2(filt), jnp.complex64)
  keep = jnp.asarray(np.sort(rng.choice(n, m, replace=False)))

  def forward(x, aux):
    del aux
    y = jnp.fft.irfft2(jnp.fft.rfft2(x, axes=(0, 1)) * fh[..., None],
                       s=(h, w), axes=(0, 1))
    return y.reshape(-1)[keep]

  return Operator('cs_conv', forward, _no_aux, (m,), tuple(image_shape),
                  clip=False)


# ------------------------------------------------------------------------- MRI
def mri_mask(hw, kind: str, accel: float, center: float,
             rng: np.random.Generator) -> np.ndarray:
  """Sampled k-space (True) `[H, W]`, in UNSHIFTED FFT order. Phase-encode
  lines are columns: the centre `center * W` lines are always kept, then
  'random' lines (uniform) or 'equispaced' lines until W / accel in all;
  'points' samples single k-space points (fraction 1 / accel)."""
  h, w = hw
  if accel < 1:
    raise UserError(f'operator.accel must be >= 1, got {accel}.')
  if kind == 'points':
    m = rng.random((h, w)) < 1.0 / accel
    m[0, 0] = True
    return m
  n_center = max(1, round(w * center))
  lines = np.zeros(w, bool)
  lo = (w - n_center + 1) // 2
  lines[lo:lo + n_center] = True
  n_more = max(0, round(w / accel) - n_center)
  rest = np.flatnonzero(~lines)
  if kind == 'random':
    lines[rng.choice(rest, min(n_more, len(rest)), replace=False)] = True
  elif kind == 'equispaced':
    if n_more:
      lines[rest[np.round(np.linspace(0, len(rest) - 1, n_more)).astype(int)]
            ] = True
  else:
    raise UserError(f"Unknown operator.mri_mask {kind!r}; choose one of "
                    f"['random', 'equispaced', 'points'] or a mask file.")
  return np.fft.ifftshift(np.broadcast_to(lines, (h, w)))


def synthetic_coils(hw, n: int) -> np.ndarray:
  """n smooth complex coil maps `[H, W, n]` around the image, sum |S|^2 = 1."""
  h, w = hw
  yy, xx = np.mgrid[0:h, 0:w] / np.array([h, w]).reshape(2, 1, 1) - 0.5
  maps = []
  for j in range(n):
    a = 2 * math.pi * j / n
    d2 = (yy - 0.7 * math.sin(a)) ** 2 + (xx - 0.7 * math.cos(a)) ** 2
    maps.append(np.exp(-d2 / 0.3) * np.exp(1j * (a + 2 * xx + yy)))
  s = np.stack(maps, -1)
  return s / np.sqrt(np.sum(np.abs(s) ** 2, -1, keepdims=True))


def load_coils(spec: str, hw) -> np.ndarray:
  if spec.startswith('synthetic'):
    n = int(spec.split(':')[1]) if ':' in spec else 8
    return synthetic_coils(hw, n)
  try:
    s = np.load(spec)
  except (OSError, ValueError) as e:
    raise UserError(f"operator.coils {spec!r}: give 'synthetic:J' or a .npy "
                    f"file of complex maps [H, W, J] ({e}).") from None
  if s.ndim != 3 or s.shape[:2] != tuple(hw):
    raise UserError(f'Coil maps {spec!r} have shape {s.shape}; expected '
                    f'[{hw[0]}, {hw[1]}, J] to match the image.')
  return s


def _mri_parts(cfg, image_shape):
  hw = tuple(image_shape[:2])
  kind = cfg.get('mri_mask', 'random')
  if os.path.isfile(kind):
    return hw, jnp.asarray(data_lib.load_mask(kind, hw))
  rng = np.random.default_rng(int(cfg.get('cs_seed', 0)))
  return hw, jnp.asarray(mri_mask(hw, kind, float(cfg.get('accel', 4.0)),
                                  float(cfg.get('center', 0.08)), rng))


def _complex_to_real(z):
  return jnp.stack([z.real, z.imag], -1).astype(jnp.float32)


def mri(cfg, image_shape) -> Operator:
  """Single-coil MRI: y = mask * FFT2(x) per channel (orthonormal FFT, DC at
  [0, 0]), real/imag on a trailing axis: `[H, W, C, 2]`. A mask file (nonzero
  = sampled) is read in centred k-space order (DC in the middle)."""
  hw, m = _mri_parts(cfg, image_shape)
  if os.path.isfile(cfg.get('mri_mask', 'random')):
    m = jnp.fft.ifftshift(m)
  mf = m[..., None].astype(jnp.float32)

  def forward(x, aux):
    del aux
    return _complex_to_real(jnp.fft.fft2(x, axes=(0, 1), norm='ortho') * mf)

  return Operator('mri', forward, _no_aux, (*image_shape, 2),
                  tuple(image_shape), lambda aux: mf[..., None], clip=False)


def mri_multicoil(cfg, image_shape) -> Operator:
  """Multi-coil MRI with given coil maps S (cfg.coils: 'synthetic:J' or a
  .npy `[H, W, J]` complex): y_j = mask * FFT2(S_j x), `[H, W, C, J, 2]`."""
  hw, m = _mri_parts(cfg, image_shape)
  if os.path.isfile(cfg.get('mri_mask', 'random')):
    m = jnp.fft.ifftshift(m)
  coils = jnp.asarray(load_coils(cfg.get('coils', 'synthetic:8'), hw),
                      jnp.complex64)
  mf = m[..., None, None].astype(jnp.float32)

  def forward(x, aux):
    del aux
    xs = x[..., None] * coils[:, :, None, :]            # [H, W, C, J]
    return _complex_to_real(jnp.fft.fft2(xs, axes=(0, 1), norm='ortho') * mf)

  return Operator('mri_multicoil', forward, _no_aux,
                  (*image_shape, coils.shape[-1], 2), tuple(image_shape),
                  lambda aux: mf[..., None], clip=False)


# ---------------------------------------------------------------- composition
def compose(cfg, image_shape) -> Operator:
  """Operators applied in order, cfg.ops = 'blur,downsample' (each built from
  the same cfg, each on the previous one's output shape). The loss weight is
  the last operator's; noise is added after all of them."""
  names = [s.strip() for s in str(cfg.get('ops', '')).split(',') if s.strip()]
  if not names or 'compose' in names:
    raise UserError("operator.ops must list operators to chain, e.g. "
                    "'blur,downsample'.")
  ops, shape = [], tuple(image_shape)
  for name in names:
    ops.append(_build(name, cfg, shape))
    shape = ops[-1].measurement_shape

  def forward(x, aux):
    for i, op in enumerate(ops):
      x = op.forward(x, aux[i])
    return x

  def make(key, i):
    return tuple(op.make_aux(k, i) for op, k in
                 zip(ops, jax.random.split(key, len(ops))))

  last = ops[-1].weight
  weight = None if last is None else (lambda aux: last(aux[-1]))
  return Operator('compose', forward, make, shape, tuple(image_shape), weight,
                  all(op.clip for op in ops))


OPERATORS: dict[str, Callable[..., Operator]] = {
    'identity': identity,
    'mask': mask,
    'downsample': downsample,
    'blur': blur,
    'cs_gaussian': cs_gaussian,
    'cs_conv': cs_conv,
    'mri': mri,
    'mri_multicoil': mri_multicoil,
    'compose': compose,
}


def _build(name, cfg, image_shape) -> Operator:
  if name not in OPERATORS:
    raise UserError(f'Unknown operator.name {name!r}; choose one of '
                    f'{sorted(OPERATORS)}.')
  return OPERATORS[name](cfg, tuple(image_shape))


def make_operator(cfg, image_shape) -> Operator:
  """Builds `OPERATORS[cfg.name]` for images of `image_shape`."""
  return _build(cfg.name, cfg, image_shape)


def scale_factor(cfg) -> int:
  """How many times larger than the measurement the image's sides are (the
  super-resolution factor; 1 for same-size image measurements)."""
  names = (cfg.name,) if cfg.name != 'compose' else tuple(
      s.strip() for s in str(cfg.get('ops', '')).split(','))
  return int(cfg.get('factor', 4)) if 'downsample' in names else 1


IMAGE_MEASUREMENTS = ('identity', 'mask', 'downsample', 'blur', 'compose')


def image_shape_for(cfg, y_shape) -> tuple[int, ...]:
  """The image shape behind a given measurement of shape `y_shape`."""
  names = (cfg.name,) if cfg.name != 'compose' else tuple(
      s.strip() for s in str(cfg.get('ops', '')).split(','))
  if cfg.name in ('mri', 'mri_multicoil'):
    return tuple(y_shape[:3])
  if any(n not in IMAGE_MEASUREMENTS for n in names):
    raise UserError(f'A given measurement for operator {cfg.name!r} needs '
                    f'the image shape, which a {list(y_shape)} vector does not '
                    f'tell; simulate it from data.images instead.')
  f = scale_factor(cfg)
  return (y_shape[0] * f, y_shape[1] * f, y_shape[2])


# ------------------------------------------------------------------- baselines
def least_squares(op: Operator, y: jax.Array, aux, *, iters: int = 100,
                  damping: float = 1e-3) -> jax.Array:
  """argmin ||A x - y||^2 + damping ||x||^2 by conjugate gradients on the
  normal equations from x = 0 (the min-norm solution as damping -> 0)."""
  ata = lambda v: op.adjoint(op.forward(v, aux), aux) + damping * v
  x, _ = jax.scipy.sparse.linalg.cg(ata, op.adjoint(y, aux),
                                    x0=jnp.zeros(op.image_shape), maxiter=iters)
  return x


# ---------------------------------------------------------------------- noise
def add_noise(key: jax.Array, y: jax.Array, cfg, *, clip: bool = True
              ) -> jax.Array:
  """Measurement noise, see dd_jax/noise.py (kept here for old callers)."""
  from dd_jax.inverse import noise
  return noise.add_noise(key, y, cfg, clip=clip)


def measure(key, x, op: Operator, aux, cfg) -> jax.Array:
  """y = noise(A(x)) for one clean image."""
  return add_noise(key, op.forward(x, aux), cfg, clip=op.clip)


def check_given_measurement(cfg):
  """Raises if a given (real) measurement cannot be matched to cfg's operator:
  a mask drawn at random is unknown for real data."""
  names = (cfg.name,) if cfg.name != 'compose' else tuple(
      s.strip() for s in str(cfg.get('ops', '')).split(','))
  if not cfg.name.startswith('mri') and any(
      n not in IMAGE_MEASUREMENTS for n in names):
    raise UserError(f'A given measurement for operator {cfg.name!r} needs '
                    f'the image shape, which a measurement vector does not '
                    f'tell; simulate it from data.images instead.')
  if 'mask' in names and cfg.get('mask', 'random') == 'random':
    raise UserError('A given measurement needs its own mask: set '
                    'operator.mask=path/to/mask.png (nonzero = observed).')
  if cfg.name.startswith('mri') and not os.path.isfile(
      cfg.get('mri_mask', 'random')):
    print(f'[operator] given k-space with a {cfg.get("mri_mask", "random")!r} '
          f'mask drawn from operator.cs_seed; pass the sampling mask file '
          f'(operator.mri_mask) unless the data was simulated that way.',
          flush=True)
