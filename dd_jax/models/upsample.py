"""Upsamplers on one image `[H, W, C]`: fixed kinds and a learned one.

Fixed x2 stencils (`bilinear2`, `nearest2`) are the fast path of the default
model. Every fixed kind also works for any factor and any exact output size
through `resize(x, out_hw, kind)`: a separable map whose 1-D taps are built in
numpy once per size (`taps_1d`). All fixed kinds are linear, so their VJP is
their transpose; jax derives it.

Kinds (paper sec. 6.2, REFERENCE.md section 1):
  none      no upsampling (no notion of locality)
  nearest   pixel repetition (half-pixel centres)
  bilinear  half-pixel centres, edge clamp (PyTorch align_corners=False)
  linear    the paper's (x0, .5 x0 + .5 x1, x1, ...): input sample i sits on
            output sample f*i, right neighbour weight t = fractional position
  convex    the paper's (x0, .75 x0 + .25 x1, x1, ...): as linear with weight
            t^2 (for x2: t = .5 -> .25)
  bicubic   Keys cubic, a = -0.75 (PyTorch), half-pixel centres, edge clamp
  gaussian  normalized Gaussian weights exp(-dist^2 / (2 sigma^2)) over the 4
            nearest input samples, sigma in input pixels
  transposed  learned transposed convolution (kernel 2f, stride f); its weights
            live in the model params (see `transposed_up`)

The default x2 bilinear also has a hand-written transpose
(`bilinear2_transpose`) that `layers.hidden_layer` uses in its VJP.
"""

import functools
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np

from dd_jax.errors import UserError

Upsampler = Callable[[jax.Array], jax.Array]


def _interleave(even: jax.Array, odd: jax.Array, axis: int) -> jax.Array:
  """Interleaves two equal-shape arrays along `axis`: e0, o0, e1, o1, ..."""
  stacked = jnp.stack([even, odd], axis=axis + 1)
  shape = list(even.shape)
  shape[axis] *= 2
  return stacked.reshape(shape)


def _shift(x: jax.Array, axis: int, direction: int) -> jax.Array:
  """x[i - 1] (direction=-1) or x[i + 1] (direction=+1), clamped at the edge."""
  n = x.shape[axis]
  take = jax.lax.slice_in_dim
  if direction < 0:
    return jnp.concatenate([take(x, 0, 1, axis=axis),
                            take(x, 0, n - 1, axis=axis)], axis=axis)
  return jnp.concatenate([take(x, 1, n, axis=axis),
                          take(x, n - 1, n, axis=axis)], axis=axis)


def bilinear2_1d(x: jax.Array, axis: int) -> jax.Array:
  """Bilinear x2 along one axis, half-pixel centres, edge clamp.

  out[2i] = .25 x[i-1] + .75 x[i];  out[2i+1] = .75 x[i] + .25 x[i+1]
  (PyTorch `Upsample(mode='bilinear', align_corners=False)`).
  """
  even = 0.25 * _shift(x, axis, -1) + 0.75 * x
  odd = 0.75 * x + 0.25 * _shift(x, axis, +1)
  return _interleave(even, odd, axis)


def bilinear2(x: jax.Array) -> jax.Array:
  """Bilinear x2 of `[H, W, C]` as the fixed 0.25/0.75 stencil, in one pass.

  Same numbers as `bilinear2_1d` on both axes; written on an edge-padded
  copy so XLA fuses it into one loop that writes the output once.
  """
  h, w, c = x.shape
  xp = jnp.pad(x, ((1, 1), (1, 1), (0, 0)), mode='edge')
  rows = (0.25 * xp[0:h] + 0.75 * xp[1:h + 1],
          0.75 * xp[1:h + 1] + 0.25 * xp[2:h + 2])
  out = []
  for r in rows:
    cols = (0.25 * r[:, 0:w] + 0.75 * r[:, 1:w + 1],
            0.75 * r[:, 1:w + 1] + 0.25 * r[:, 2:w + 2])
    out.append(jnp.stack(cols, axis=2))           # [h, w, 2, c]
  return jnp.stack(out, axis=1).reshape(2 * h, 2 * w, c)


def _transpose2_1d(d: jax.Array, axis: int) -> jax.Array:
  """Transpose of `bilinear2_1d` along `axis`: `[2n, ...] -> [n, ...]`.

  dx[i] = .25 d[2i-1] + .75 d[2i] + .75 d[2i+1] + .25 d[2i+2], where the
  clamped edges read d[0] for d[-1] and d[2n-1] for d[2n]. Written on the
  even/odd phases E[i] = d[2i], O[i] = d[2i+1] (a free reshape), so no
  padded copy of the full-size gradient is made:
  dx = .75 (E + O) + .25 (O[i-1] + E[i+1]), O[-1] := E[0], E[n] := O[n-1].
  """
  n = d.shape[axis] // 2
  phases = d.reshape(d.shape[:axis] + (n, 2) + d.shape[axis + 1:])
  even = jax.lax.index_in_dim(phases, 0, axis + 1, keepdims=False)
  odd = jax.lax.index_in_dim(phases, 1, axis + 1, keepdims=False)
  take = lambda a, start, stop: jax.lax.slice_in_dim(a, start, stop, axis=axis)
  odd_prev = jnp.concatenate([take(even, 0, 1), take(odd, 0, n - 1)], axis)
  even_next = jnp.concatenate([take(even, 1, n), take(odd, n - 1, n)], axis)
  return 0.75 * (even + odd) + 0.25 * (odd_prev + even_next)


def bilinear2_transpose(d: jax.Array) -> jax.Array:
  """The adjoint of `bilinear2`: `[2H, 2W, C] -> [H, W, C]` (its VJP).

  Even/odd phases of the gradient, one axis then the other; about 3x faster
  than the transpose jax derives from `bilinear2` (benchmarks/README.md).
  """
  return _transpose2_1d(_transpose2_1d(d, 0), 1)


def nearest2(x: jax.Array) -> jax.Array:
  """Nearest-neighbour x2 of `[H, W, C]`."""
  return jnp.repeat(jnp.repeat(x, 2, axis=0), 2, axis=1)


def convex2(x: jax.Array) -> jax.Array:
  """The paper's convex x2 of `[H, W, C]` (see `resize`)."""
  return resize(x, (2 * x.shape[0], 2 * x.shape[1]), 'convex')


UPSAMPLERS: dict[str, Upsampler] = {
    'bilinear': bilinear2,
    'nearest': nearest2,
    'convex': convex2,
}

# Kinds that do not change the size: no spatial coupling at all (paper 6.2).
NO_UPSAMPLING = 'none'
LEARNED = 'transposed'


def get_upsampler(name: str) -> Upsampler:
  """The x2 upsampler `name` (every fixed kind)."""
  if name in UPSAMPLERS:
    return UPSAMPLERS[name]
  if name in FIXED_KINDS:
    return lambda x: resize(x, (2 * x.shape[0], 2 * x.shape[1]), name)
  raise UserError(
      f'Unknown upsampling kind {name!r}; choose one of {ALL_KINDS}.')


# ------------------------------------------------- any factor, any exact size
def _cubic(t, a=-0.75):
  t = np.abs(t)
  return np.where(t <= 1, ((a + 2) * t - (a + 3)) * t * t + 1,
                  np.where(t < 2, ((a * t - 5 * a) * t + 8 * a) * t - 4 * a,
                           0.0))


@functools.lru_cache(maxsize=256)
def taps_1d(kind: str, n_in: int, n_out: int, sigma: float = 0.5):
  """`(index [T, n_out] int32, weight [T, n_out] float32)`: out[o] =
  sum_t weight[t, o] * x[index[t, o]] along one axis."""
  o = np.arange(n_out, dtype=np.float64)
  scale = n_in / n_out
  if kind in ('linear', 'convex'):
    s = o * scale                       # Corner-aligned: x[i] at o = f*i.
    i0 = np.floor(s)
    t = s - i0
    w1 = t if kind == 'linear' else t * t
    idx, w = np.stack([i0, i0 + 1]), np.stack([1 - w1, w1])
  elif kind == 'nearest':
    idx = np.floor((o + 0.5) * scale)[None]
    w = np.ones_like(idx)
  else:
    s = (o + 0.5) * scale - 0.5         # Half-pixel centres.
    if kind == 'bilinear':
      s = np.maximum(s, 0.0)
      i0 = np.floor(s)
      t = s - i0
      idx, w = np.stack([i0, i0 + 1]), np.stack([1 - t, t])
    elif kind in ('bicubic', 'gaussian'):
      i0 = np.floor(s)
      idx = np.stack([i0 - 1, i0, i0 + 1, i0 + 2])
      d = idx - s[None]
      if kind == 'bicubic':
        w = _cubic(d)
      else:
        w = np.exp(-0.5 * (d / sigma) ** 2)
        w = w / w.sum(axis=0, keepdims=True)
    else:
      raise UserError(f'Unknown upsampling kind {kind!r}; choose one of '
                      f'{ALL_KINDS}.')
  idx = np.clip(idx, 0, n_in - 1).astype(np.int32)
  return idx, w.astype(np.float32)


def resize_1d(x: jax.Array, axis: int, n_out: int, kind: str,
              sigma: float = 0.5) -> jax.Array:
  """Fixed-kind resampling of `x` along `axis` to `n_out` samples."""
  idx, w = taps_1d(kind, x.shape[axis], n_out, sigma)
  shape = [1] * x.ndim
  shape[axis] = n_out
  out = 0.0
  for t in range(idx.shape[0]):
    out = out + jnp.take(x, jnp.asarray(idx[t]), axis=axis) * jnp.asarray(
        w[t]).reshape(shape)
  return out


def resize(x: jax.Array, out_hw: tuple[int, int], kind: str,
           sigma: float = 0.5) -> jax.Array:
  """`[H, W, C] -> [*out_hw, C]` with a fixed kind; x2 uses the stencils."""
  h, w = x.shape[:2]
  if tuple(out_hw) == (h, w) or kind == NO_UPSAMPLING:
    return x
  if tuple(out_hw) == (2 * h, 2 * w) and kind in ('bilinear', 'nearest'):
    return UPSAMPLERS[kind](x)
  if kind == 'nearest' and out_hw[0] % h == 0 and out_hw[1] % w == 0:
    return jnp.repeat(jnp.repeat(x, out_hw[0] // h, axis=0), out_hw[1] // w,
                      axis=1)
  return resize_1d(resize_1d(x, 0, out_hw[0], kind, sigma), 1, out_hw[1],
                   kind, sigma)


def make_resizer(kind: str, out_hw: tuple[int, int],
                 sigma: float = 0.5) -> Upsampler:
  """`x -> resize(x, out_hw, kind)`: a fixed linear map of one size."""
  out_hw = (int(out_hw[0]), int(out_hw[1]))
  return lambda x: resize(x, out_hw, kind, sigma)


# ------------------------------------------------------------------- learned
def bilinear_kernel_1d(factor: int) -> np.ndarray:
  """The 2f taps that make a stride-f transposed conv bilinear (interior)."""
  k = 2 * factor
  centre = (k - 1) / 2.0
  return 1.0 - np.abs(np.arange(k) - centre) / factor


def _shift_zero(x: jax.Array, q: int, axis: int) -> jax.Array:
  """x[m - q] along `axis`, zero outside."""
  n = x.shape[axis]
  if q == 0:
    return x
  pad = [(0, 0)] * x.ndim
  pad[axis] = (q, 0) if q > 0 else (0, -q)
  start = 0 if q > 0 else -q
  return jax.lax.slice_in_dim(jnp.pad(x, pad), start, start + n, axis=axis)


def transposed_up(x: jax.Array, w: jax.Array, factor: int,
                  depthwise: bool) -> jax.Array:
  """Learned transposed conv `[H, W, Ci] -> [fH, fW, Co]`, kernel 2f, stride f.

  PyTorch ConvTranspose2d(kernel 2f, stride f, padding f // 2) semantics:
  y[f m + r] = sum_q x[m - q] w[f q + r + f // 2]. w: `[2f, 2f, C]`
  (depthwise) or `[2f, 2f, Ci, Co]`. Written per output phase (r, s) as
  shifted multiply-adds / channel matmuls, which stay fast under vmap.
  """
  f, p = factor, factor // 2
  h, wd = x.shape[:2]
  taps = lambda r: [(q, f * q + r + p) for q in range(-2, 3)
                    if 0 <= f * q + r + p < 2 * f]
  rows = []
  for r in range(f):
    cols = []
    for s in range(f):
      acc = 0.0
      for q1, a in taps(r):
        xa = _shift_zero(x, q1, 0)
        for q2, b in taps(s):
          xab = _shift_zero(xa, q2, 1)
          acc = acc + (xab * w[a, b] if depthwise else
                       jnp.einsum('hwc,cd->hwd', xab, w[a, b]))
      cols.append(acc)
    rows.append(jnp.stack(cols, axis=2))        # [H, W, f, C]
  return jnp.stack(rows, axis=1).reshape(h * f, wd * f, -1)


def transposed_up_lax(x: jax.Array, w: jax.Array, factor: int,
                  depthwise: bool) -> jax.Array:
  """`transposed_up` as lax.conv with lhs dilation (the test reference;
  under vmap with per-image kernels it is a slow grouped conv).

  Learned transposed conv `[H, W, Ci] -> [fH, fW, Co]`, kernel 2f, stride f.

  w: `[2f, 2f, C]` (depthwise, C = Ci = Co) or `[2f, 2f, Ci, Co]`. Padding
  f/2 on each side (f even) so the output is exactly f times the input,
  aligned like bilinear upsampling in the interior.
  """
  k = 2 * factor
  # Output (n - 1) f + 1 + lo + hi - k + 1 = f n  <=>  lo + hi = 3f - 2
  # (PyTorch ConvTranspose2d(2f, stride f, padding f // 2) for even f).
  lo = k - 1 - factor // 2
  hi = 3 * factor - 2 - lo
  kernel = w[:, :, None, :] if depthwise else w
  groups = x.shape[-1] if depthwise else 1
  y = jax.lax.conv_general_dilated(
      x[None], kernel[::-1, ::-1], window_strides=(1, 1),
      padding=((lo, hi), (lo, hi)), lhs_dilation=(factor, factor),
      dimension_numbers=('NHWC', 'HWIO', 'NHWC'),
      feature_group_count=groups)
  return y[0]


FIXED_KINDS = ('nearest', 'bilinear', 'linear', 'convex', 'bicubic',
               'gaussian')
ALL_KINDS = [NO_UPSAMPLING, *FIXED_KINDS, LEARNED]
