"""MRI: subsampled 2-D Fourier measurements, single or multi-coil.

k-space has real/imag on a trailing axis: `[H, W, C, 2]` (single coil) or
`[H, W, C, J, 2]` (J coils), zeros where it is not sampled. Orthonormal FFT,
DC at [0, 0]; k-space is not an image, so its noise is never clipped.

Both operators are complex-linear: `forward` takes a complex x as well, so
they also measure complex images (data.complex; `base.complex_images` wraps
them for images stored as real/imaginary channel pairs).
"""

import math
import os

import jax.numpy as jnp
import numpy as np

from dd_jax.errors import UserError
from dd_jax.inverse.base import Operator, no_aux
from dd_jax.io import images as data_lib

MASKS = ('random', 'equispaced', 'points')


def mri_mask(hw, kind: str, accel: float, center: float,
             rng: np.random.Generator) -> np.ndarray:
  """Sampled k-space (True) `[H, W]`, in UNSHIFTED FFT order. Phase-encode
  lines are columns: the centre `center * W` lines are always kept, then
  'random' lines (uniform) or 'equispaced' lines until W / accel in all;
  'points' samples single k-space points (fraction 1 / accel)."""
  h, w = hw
  if accel < 1:
    raise UserError(f'operator.mri.accel must be >= 1, got {accel}.')
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
    raise UserError(f'Unknown operator.mri.mask {kind!r}; choose one of '
                    f'{list(MASKS)} or a mask file.')
  return np.fft.ifftshift(np.broadcast_to(lines, (h, w)))


def sampling(hw, mask: str, accel: float, center: float,
             seed: int) -> jnp.ndarray:
  """The unshifted sampling mask `[H, W]`: drawn (`mri_mask`) or read from a
  mask file (nonzero = sampled) in centred k-space order (DC in the middle)."""
  if os.path.isfile(mask):
    return jnp.fft.ifftshift(jnp.asarray(data_lib.load_mask(mask, hw)))
  rng = np.random.default_rng(int(seed))
  return jnp.asarray(mri_mask(hw, mask, float(accel), float(center), rng))


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
  """Coil maps `[H, W, J]` from 'synthetic:J' or a .npy file."""
  if spec.startswith('synthetic'):
    n = int(spec.split(':')[1]) if ':' in spec else 8
    return synthetic_coils(hw, n)
  try:
    s = np.load(spec)
  except (OSError, ValueError) as e:
    raise UserError(f"operator.mri.coils {spec!r}: give 'synthetic:J' or a "
                    f".npy file of complex maps [H, W, J] ({e}).") from None
  if s.ndim != 3 or s.shape[:2] != tuple(hw):
    raise UserError(f'Coil maps {spec!r} have shape {s.shape}; expected '
                    f'[{hw[0]}, {hw[1]}, J] to match the image.')
  return s


def _complex_to_real(z):
  return jnp.stack([z.real, z.imag], -1).astype(jnp.float32)


def single_coil(image_shape, *, mask: str = 'random', accel: float = 4.0,
                center: float = 0.08, seed: int = 0) -> Operator:
  """y = mask * FFT2(x) per channel, `[H, W, C, 2]`. mask: 'random' or
  'equispaced' phase-encode lines (the centre fraction `center` always
  kept) or 'points', W / accel lines in all, drawn from `seed`; or a mask
  file (centred k-space order)."""
  m = sampling(tuple(image_shape[:2]), mask, accel, center, seed)
  mf = m[..., None].astype(jnp.float32)

  def forward(x, aux):
    del aux
    return _complex_to_real(jnp.fft.fft2(x, axes=(0, 1), norm='ortho') * mf)

  return Operator('mri', forward, no_aux, (*image_shape, 2),
                  tuple(image_shape), lambda aux: mf[..., None], clip=False)


def multi_coil(image_shape, *, mask: str = 'random', accel: float = 4.0,
               center: float = 0.08, seed: int = 0,
               coils: str = 'synthetic:8') -> Operator:
  """y_j = mask * FFT2(S_j x), `[H, W, C, J, 2]`, with coil maps S from
  `coils` ('synthetic:J' or a .npy `[H, W, J]` complex); mask as in
  `single_coil`."""
  hw = tuple(image_shape[:2])
  m = sampling(hw, mask, accel, center, seed)
  maps = jnp.asarray(load_coils(coils, hw), jnp.complex64)
  mf = m[..., None, None].astype(jnp.float32)

  def forward(x, aux):
    del aux
    xs = x[..., None] * maps[:, :, None, :]            # [H, W, C, J]
    return _complex_to_real(jnp.fft.fft2(xs, axes=(0, 1), norm='ortho') * mf)

  return Operator('mri_multicoil', forward, no_aux,
                  (*image_shape, maps.shape[-1], 2), tuple(image_shape),
                  lambda aux: mf[..., None], clip=False)
