"""Forward operators y = A(x) as pure functions on ONE image `[H, W, C]`.

`make_operator(cfg, image_shape)` looks `cfg.name` up in `OPERATORS` and
returns an `Operator`: a pure `forward(x, aux)` plus `make_aux(key, i)`, which
builds the per-image operator data (a mask, say) that is vmapped along with the
image. Adding an operator is one builder function and one registry entry.

Noise (`add_noise`) is applied after the operator to simulate a measurement.
"""

import dataclasses
import math
from typing import Any, Callable

import jax
import jax.numpy as jnp
import numpy as np

from dd_jax import data as data_lib
from dd_jax.errors import UserError

Aux = Any


@dataclasses.dataclass(frozen=True)
class Operator:
  """A forward operator for images of one shape.

  forward: (x [H, W, C], aux) -> y, pure and jit-able.
  make_aux: (key, image_index) -> aux, the per-image operator data (a pytree
    of arrays; `{}` for none).
  measurement_shape: shape of y.
  """
  name: str
  forward: Callable[[jax.Array, Aux], jax.Array]
  make_aux: Callable[[jax.Array, int], Aux]
  measurement_shape: tuple[int, ...]


def _no_aux(key, index):
  del key, index
  return {}


def identity(cfg, image_shape) -> Operator:
  """Denoising: A = I."""
  del cfg
  return Operator('identity', lambda x, aux: x, _no_aux, tuple(image_shape))


# ----------------------------------------------------------------- inpainting
def _random_mask(key, hw, observed):
  return jax.random.uniform(key, hw) < observed


def _block_mask(hw, block):
  h, w = hw
  bh, bw = int(h * block), int(w * block)
  m = np.ones(hw, bool)
  m[(h - bh) // 2:(h + bh) // 2, (w - bw) // 2:(w + bw) // 2] = False
  return m


def mask(cfg, image_shape) -> Operator:
  """Inpainting: y = x * mask (1 = observed), the mask shared over channels.

  cfg.mask: 'random' (fraction cfg.observed kept, drawn per image), 'block'
  (a centred hole of side cfg.block * side) or a path to a mask image
  (nonzero = observed).
  """
  hw = tuple(image_shape[:2])
  kind = cfg.get('mask', 'random')
  if kind == 'random':
    observed = float(cfg.get('observed', 0.5))
    if not 0.0 < observed <= 1.0:
      raise UserError(f'operator.observed must be in (0, 1], got {observed}.')
    make = lambda key, i: {'mask': _random_mask(key, hw, observed)}
  elif kind == 'block':
    fixed = _block_mask(hw, float(cfg.get('block', 0.25)))
    make = lambda key, i: {'mask': jnp.asarray(fixed)}
  else:
    fixed = data_lib.load_mask(kind, hw)
    make = lambda key, i: {'mask': jnp.asarray(fixed)}

  def forward(x, aux):
    return x * aux['mask'][..., None].astype(x.dtype)

  return Operator('mask', forward, make, tuple(image_shape))


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


def downsample(cfg, image_shape) -> Operator:
  """Super-resolution: Lanczos-2 antialiased downsampling by cfg.factor."""
  f = int(cfg.get('factor', 4))
  h, w = image_shape[:2]
  if f < 1 or h % f or w % f:
    raise UserError(f'Image size {h}x{w} is not divisible by the '
                    f'super-resolution factor {f}; crop or resize the image.')
  mh = jnp.asarray(downsample_matrix(h, f), jnp.float32)
  mw = jnp.asarray(downsample_matrix(w, f), jnp.float32)

  def forward(x, aux):
    del aux
    return jnp.einsum('ih,hwc,jw->ijc', mh, x, mw)

  return Operator('downsample', forward, _no_aux,
                  (h // f, w // f, image_shape[2]))


OPERATORS: dict[str, Callable[..., Operator]] = {
    'identity': identity,
    'mask': mask,
    'downsample': downsample,
}


def make_operator(cfg, image_shape) -> Operator:
  """Builds `OPERATORS[cfg.name]` for images of `image_shape`."""
  if cfg.name not in OPERATORS:
    raise UserError(f'Unknown operator.name {cfg.name!r}; choose one of '
                    f'{sorted(OPERATORS)}.')
  return OPERATORS[cfg.name](cfg, tuple(image_shape))


# ---------------------------------------------------------------------- noise
def add_noise(key: jax.Array, y: jax.Array, cfg) -> jax.Array:
  """Simulated measurement noise; cfg.noise in {'gaussian', 'none'}.

  Gaussian: y + sigma * N(0, 1), then clipped to [0, 1] when cfg.clip (as the
  reference does).
  """
  kind = cfg.get('noise', 'gaussian')
  if kind == 'none':
    out = y
  elif kind == 'gaussian':
    out = y + float(cfg.sigma) * jax.random.normal(key, y.shape, y.dtype)
  else:
    raise UserError(f"Unknown operator.noise {kind!r}; choose one of "
                    f"['gaussian', 'none'].")
  return jnp.clip(out, 0.0, 1.0) if cfg.get('clip', True) else out


def measure(key, x, op: Operator, aux, cfg) -> jax.Array:
  """y = noise(A(x)) for one clean image."""
  return add_noise(key, op.forward(x, aux), cfg)
