"""Compressive sensing: m = n / ratio linear measurements, y: `[M]`.

Both matrices are seeded (`seed`) and never stored as n x n; measurements
are not images, so noise on them is never clipped.
"""

import math

import jax
import jax.numpy as jnp
import numpy as np

from dd_jax.errors import UserError
from dd_jax.inverse.base import Operator, no_aux


def _check_ratio(ratio) -> float:
  ratio = float(ratio)
  if ratio < 1:
    raise UserError(f'operator.cs.ratio (n / m) must be >= 1, got {ratio}.')
  return ratio


def gaussian(image_shape, *, ratio: float = 4.0, block: int = 1024,
             seed: int = 0) -> Operator:
  """A blocked Gaussian matrix.

  The n = H*W*C entries of x are put in a seeded random order and cut into
  blocks of `block` entries (zero-padded); each block is measured by the
  same Gaussian matrix G `[block / ratio, block]`, entries N(0, 1/m_block), so
  A is block diagonal after a permutation and E||Ax||^2 = ||x||^2.
  """
  n = int(np.prod(image_shape))
  b = min(int(block), n)
  mb = max(1, round(b / _check_ratio(ratio)))
  rng = np.random.default_rng(int(seed))
  perm = jnp.asarray(rng.permutation(n))
  g = jnp.asarray(rng.standard_normal((mb, b)) / math.sqrt(mb), jnp.float32)
  nb = -(-n // b)

  def forward(x, aux):
    del aux
    v = jnp.pad(x.reshape(-1)[perm], (0, nb * b - n)).reshape(nb, b)
    return jnp.einsum('mb,kb->km', g, v,
                      precision=jax.lax.Precision.HIGHEST).reshape(-1)

  return Operator('cs_gaussian', forward, no_aux, (nb * mb,),
                  tuple(image_shape), clip=False)


def conv(image_shape, *, ratio: float = 4.0, seed: int = 0) -> Operator:
  """Subsampled random convolution (Romberg 2009): circular convolution of
  every channel with a seeded Gaussian filter (FFT, never a matrix), then
  n / ratio of the H*W*C entries kept at seeded random positions."""
  h, w, c = image_shape
  n = h * w * c
  m = max(1, round(n / _check_ratio(ratio)))
  rng = np.random.default_rng(int(seed))
  filt = rng.standard_normal((h, w)) / math.sqrt(h * w)
  fh = jnp.asarray(np.fft.rfft2(filt), jnp.complex64)
  keep = jnp.asarray(np.sort(rng.choice(n, m, replace=False)))

  def forward(x, aux):
    del aux
    y = jnp.fft.irfft2(jnp.fft.rfft2(x, axes=(0, 1)) * fh[..., None],
                       s=(h, w), axes=(0, 1))
    return y.reshape(-1)[keep]

  return Operator('cs_conv', forward, no_aux, (m,), tuple(image_shape),
                  clip=False)
