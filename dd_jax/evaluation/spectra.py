"""Radial power spectra: an image's energy per band of spatial frequency.

    edges = band_edges(16, (128, 128), spacing='log')   # [17] cycles/pixel
    bands = band_index((128, 128), edges)               # [128, 128] band ids
    e = band_energy(x, bands, 16)      # [16]: sums to sum(x ** 2) (Parseval)
    p = radial_power(x, bands, 16)     # [16]: e / (frequencies in the band)
    c = band_cross(x, y, bands, 16)    # [16]: <x, y> per band, sums to <x, y>

An image `[H, W, C]` is taken to the 2-D DFT per channel (`jnp.fft.fft2`
over H, W). Its frequency (fy, fx) (`np.fft.fftfreq`, cycles per pixel, in
[-1/2, 1/2)) has radius r = sqrt(fy^2 + fx^2), from 0 (the mean) to
sqrt(1/2) (the corners). `band_edges` splits [0, sqrt(1/2)] into bands; band
b holds the frequencies with edges[b] <= r < edges[b + 1] (the last band
also holds r = sqrt(1/2)). Energies are normalized by H * W, so the bands of
one image sum to its energy sum(x^2) over all pixels and channels
(Parseval); channels are summed. Everything is pure jax.numpy on ONE image
(jit- and vmap-able); the band map is a static numpy array.
"""

from typing import Sequence

import jax
import jax.numpy as jnp
import numpy as np

SPACINGS = ('log', 'linear')
R_MAX = float(np.sqrt(0.5))  # The largest radius (the corners of the grid).


def radius(shape: Sequence[int]) -> np.ndarray:
  """`[H, W]` radial frequency |f| (cycles per pixel) of the fft2 grid."""
  h, w = int(shape[0]), int(shape[1])
  fy, fx = np.fft.fftfreq(h), np.fft.fftfreq(w)
  return np.sqrt(fy[:, None] ** 2 + fx[None, :] ** 2)


def band_edges(n_bands: int, shape: Sequence[int], spacing: str = 'log', *,
               lowest: float = 2.5, separate_dc: bool = False) -> np.ndarray:
  """`[n_bands + 1]` band edges in cycles per pixel, 0 to sqrt(1/2).

  linear: equal widths. log: band 0 is [0, lowest / min(H, W)) (the mean
  and the lowest rings: `lowest` is in frequency steps 1 / min(H, W)), the
  others are equal in log |f| up to sqrt(1/2). A band narrower than the
  grid's ring spacing can hold no frequency (`band_counts` says; e.g. 16 log
  bands at 128x128 with lowest=1.5); the default keeps 12 log bands filled
  from 32x32 up. separate_dc: band 0 holds the mean (f = 0) alone and the
  other n_bands - 1 bands split the rest as above.
  """
  n_bands = int(n_bands)
  if n_bands < 1 + separate_dc or spacing not in SPACINGS:
    raise ValueError(f'n_bands must be >= {1 + separate_dc} and spacing one '
                     f'of {SPACINGS}; got {n_bands}, {spacing!r}.')
  if separate_dc:
    rest = band_edges(n_bands - 1, shape, spacing, lowest=lowest)
    dc = 0.5 / max(int(shape[0]), int(shape[1]))  # Below the first ring.
    if rest[1] <= dc:
      raise ValueError(f'{n_bands} bands are too many for {shape[:2]}.')
    return np.concatenate([[0.0, dc], rest[1:]])
  if spacing == 'linear' or n_bands == 1:
    return np.linspace(0.0, R_MAX, n_bands + 1)
  low = float(lowest) / min(int(shape[0]), int(shape[1]))
  if not 0 < low < R_MAX:
    raise ValueError(f'lowest must be in (0, {R_MAX * min(shape[:2]):.1f}) '
                     f'frequency steps; got {lowest}.')
  return np.concatenate([[0.0], np.geomspace(low, R_MAX, n_bands)])


def band_index(shape: Sequence[int], edges) -> np.ndarray:
  """`[H, W]` int32 band of each frequency of the fft2 grid (see module)."""
  edges = np.asarray(edges, np.float64)
  b = np.searchsorted(edges, radius(shape), side='right') - 1
  return np.clip(b, 0, len(edges) - 2).astype(np.int32)


def band_counts(bands: np.ndarray, n_bands: int) -> np.ndarray:
  """`[n_bands]` number of grid frequencies in each band."""
  return np.bincount(np.asarray(bands).ravel(), minlength=n_bands)[:n_bands]


def _spectrum(x: jax.Array) -> jax.Array:
  return jnp.fft.fft2(jnp.asarray(x), axes=(0, 1))


def _per_band(values: jax.Array, bands, n_bands: int) -> jax.Array:
  """Sums `values [H, W, C]` over channels and over each band's frequencies."""
  return jax.ops.segment_sum(jnp.sum(values, axis=-1).ravel(),
                             jnp.asarray(bands).ravel(), num_segments=n_bands)


def band_cross(x: jax.Array, y: jax.Array, bands, n_bands: int) -> jax.Array:
  """`[n_bands]` Re sum F(x) conj(F(y)) / (H W) per band: the inner product
  <x, y> split by frequency (the bands sum to sum(x * y))."""
  h, w = x.shape[0], x.shape[1]
  prod = jnp.real(_spectrum(x) * jnp.conj(_spectrum(y))) / (h * w)
  return _per_band(prod, bands, n_bands)


def band_energy(x: jax.Array, bands, n_bands: int) -> jax.Array:
  """`[n_bands]` energy sum |F(x)|^2 / (H W) per band (sums to sum(x^2))."""
  h, w = x.shape[0], x.shape[1]
  return _per_band(jnp.abs(_spectrum(x)) ** 2 / (h * w), bands, n_bands)


def radial_power(x: jax.Array, bands, n_bands: int) -> jax.Array:
  """`[n_bands]` radially averaged power spectrum: each band's energy over
  the number of its frequencies (NaN for a band with none)."""
  counts = band_counts(bands, n_bands).astype(np.float32)
  return band_energy(x, bands, n_bands) / jnp.where(counts > 0, counts,
                                                    jnp.nan)
