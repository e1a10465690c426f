"""The deep decoder's hidden layer, with a hand-written VJP.

One hidden layer (REFERENCE.md section 1) on ONE image:

    y = up(x @ w)                      # 1x1 conv (no bias), then upsampling
    r = relu(y)
    out = (r - mean(r)) / sqrt(var(r) + eps) * gamma + beta   # per channel over H, W

Autodiff of this makes several passes over the full-resolution activations
(REFERENCE.md section 8 measured the backward at 14x the forward). The VJP below
keeps one full-resolution residual `y` and does the backward in two fused
passes: the two channel reductions, then normalization-backward * relu-mask
folded straight into the (linear) upsampler's transpose. `hidden_layer_reference`
is the plain version it is tested against.
"""

import functools
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np

from dd_jax.models import upsample as upsample_lib

EPS = 1e-5

# Hand-written transposes (VJPs) of linear upsamplers; others use
# jax.linear_transpose.
_TRANSPOSES = {upsample_lib.bilinear2: upsample_lib.bilinear2_transpose}


def conv1x1(x: jax.Array, w: jax.Array) -> jax.Array:
  """Pixel-wise linear combination of channels: `[H, W, Ci] x [Ci, Co]`.

  Written as one `[H*W, Ci] @ [Ci, Co]` GEMM, the fast path on CPU.
  """
  h, wd, c = x.shape
  return (x.reshape(h * wd, c) @ w).reshape(h, wd, w.shape[1])


def conv(x: jax.Array, w: jax.Array, stride: int = 1) -> jax.Array:
  """1x1 (`w [Ci, Co]`) or p x p reflection-padded (`w [p, p, Ci, Co]`) conv.

  Stride-1 p x p convs use Winograd's algorithm (`winograd_conv`) on CPU;
  strided ones and other backends one matmul over p^2 shifted copies
  (`im2col_conv`). Both stay batched matmuls under vmap with per-image
  weights, where lax.conv becomes a grouped convolution that is several
  times slower on CPU.
  """
  if w.ndim == 2:
    return conv1x1(x, w)
  if w.shape[0] == 1 and stride == 1:
    return conv1x1(x, w[0, 0])
  if stride == 1 and uses_winograd(w.shape[0]):
    return winograd_conv(x, w)
  return im2col_conv(x, w, stride)


def im2col_conv(x: jax.Array, w: jax.Array, stride: int = 1) -> jax.Array:
  """The p x p conv as one `[H*W, p^2 Ci] @ [p^2 Ci, Co]` GEMM (autodiff)."""
  p = w.shape[0]
  r = (p - 1) // 2
  h, wd = x.shape[0], x.shape[1]
  xp = jnp.pad(x, ((r, r), (r, r), (0, 0)), mode='reflect') if r else x
  ho, wo = (h - 1) // stride + 1, (wd - 1) // stride + 1
  patches = jnp.concatenate(
      [xp[a:a + (ho - 1) * stride + 1:stride, b:b + (wo - 1) * stride + 1:stride]
       for a in range(p) for b in range(p)], axis=-1)
  return conv1x1(patches, w.reshape(p * p * w.shape[2], w.shape[3]))


# ------------------------------------------------------------------ Winograd
# F(m x m, p x p) (Lavin & Gray 2016): per tile of m x m outputs, with
# n = m + p - 1 and the n x n input tile d,
#     y = A^T [(G w G^T) * (B^T d B)] A,
# so the conv is n^2 GEMMs `[tiles, Ci] @ [Ci, Co]` (one batched dot) between
# two cheap elementwise transforms: n^2 / m^2 multiplies per output pixel and
# channel pair instead of p^2 (p=3, m=2: 4 vs 9; p=5, m=2: 9 vs 25). The
# transforms are written on strided slices and even/odd-style phases, so the
# reflection padding is fused into the input transform and no p^2-fold
# im2col copy is made, forward or backward. Points 0, 1, -1, 2, -2 (and
# infinity) keep float32 rounding at the level of a direct sum.
WINOGRAD_TILE = {3: 4, 5: 4}   # p -> m
# Interpolation points other than 0, 1, -1, 2, -2, ... where they round
# better (max error over the output's std, relu'd N(0, 1) inputs, 64
# channels; im2col 2.9e-6 at p=3, 4.9e-6 at p=5): F(4, 3) 2.1e-5 -> 8.5e-6,
# F(2, 5) 2.2e-5 -> 6.7e-6.
WINOGRAD_POINTS = {(4, 3): (0, 1, -1, 2, -0.5), (2, 5): (0, 1, -1, -2, 0.5),
                   (4, 5): (0, 1, -1, 2, -2, 0.5, -0.5)}


def uses_winograd(p: int) -> bool:
  """Whether stride-1 p x p convs take the Winograd path (CPU only: on
  GPUs/TPUs the library convolutions are not measured against it)."""
  return p in WINOGRAD_TILE and jax.default_backend() == 'cpu'


@functools.lru_cache(maxsize=None)
def winograd_matrices(m: int, p: int):
  """(A^T `[m, n]`, G `[n, p]`, B^T `[n, n]`) of F(m, p), numpy float64.

  A^T and G from the points 0, 1, -1, 2, -2, ... and infinity; B^T solves
  A^T [(G g) * (B^T d)] = correlation(d, g) exactly (checked).
  """
  n = m + p - 1
  pts = list(WINOGRAD_POINTS.get((m, p), (0, 1, -1, 2, -2, 0.5, -0.5)))[:n - 1]
  at, g = np.zeros((m, n)), np.zeros((n, p))
  for j, a in enumerate(pts):
    at[:, j] = [a ** i for i in range(m)]
    g[j] = [a ** k / np.prod([a - b for b in pts if b != a]) for k in range(p)]
  at[m - 1, n - 1] = g[n - 1, p - 1] = 1.0
  # sum_x A^T[i, x] G[x, k] B^T[x, j] = [j == i + k] for every j.
  lhs = np.einsum('ix,xk->ikx', at, g).reshape(m * p, n)
  bt = np.zeros((n, n))
  for j in range(n):
    rhs = np.array([[float(j == i + k) for k in range(p)] for i in range(m)])
    bt[:, j] = np.linalg.lstsq(lhs, rhs.reshape(-1), rcond=None)[0]
  bt = np.round(bt * 64) / 64  # Small dyadic rationals; exact below.
  for j in range(n):
    rhs = np.array([[float(j == i + k) for k in range(p)] for i in range(m)])
    assert np.allclose(lhs @ bt[:, j], rhs.reshape(-1), atol=1e-12)
  return at, g, bt


def _lincomb(planes, coef):
  """[sum_j coef[i, j] planes[j] for each row i] (exact zeros skipped)."""
  out = []
  for row in coef:
    acc = None
    for c, a in zip(row, planes):
      if c == 0:
        continue
      t = a if c == 1 else -a if c == -1 else float(c) * a
      acc = t if acc is None else acc + t
    out.append(jnp.zeros_like(planes[0]) if acc is None else acc)
  return out


def _reflect_source(k, r, length):
  """Index into x of padded position k (reflection r, then zeros), or None."""
  s = k - r
  if s < 0:
    return -s
  if s >= length + r:
    return None
  return 2 * (length - 1) - s if s >= length else s


def _reflect_taps(x, axis, m, n, tiles, r, t0=0):
  """Taps xp[j + m t] (t0 <= t < t0 + tiles) for each j < n along `axis`,
  where xp is x reflection-padded by r, then zero-padded: read from x
  directly, as stride-m slices plus the few mirrored (or zero) boundary
  entries, so no padded copy is written."""
  length = x.shape[axis]
  out = []
  for j in range(n):
    pieces, run = [], None  # run: [first source index, count], stride m.

    def flush(run):
      if run is not None:
        pieces.append(jax.lax.slice_in_dim(
            x, run[0], run[0] + m * (run[1] - 1) + 1, m, axis))

    for t in range(t0, t0 + tiles):
      s = j + m * t - r
      if 0 <= s < length:
        if run is not None and run[0] + m * run[1] == s:
          run[1] += 1
        else:
          flush(run)
          run = [s, 1]
        continue
      flush(run)
      run = None
      src = _reflect_source(j + m * t, r, length)
      if src is None:
        shape = list(x.shape)
        shape[axis] = 1
        pieces.append(jnp.zeros(shape, x.dtype))
      else:
        pieces.append(jax.lax.slice_in_dim(x, src, src + 1, 1, axis))
    flush(run)
    out.append(pieces[0] if len(pieces) == 1 else
               jnp.concatenate(pieces, axis))
  return out


def _reflect_taps_adjoint(taps, axis, m, r, length):
  """Transpose of `_reflect_taps`: taps[j] `[.., tiles, ..]` -> `[.., length,
  ..]`. Written as m interleaved phases (positions q mod m), each a sum of
  zero-padded slices of the taps, the mirrored boundary entries included:
  one loop, no padded intermediate, no in-place fix-ups."""
  tiles = taps[0].shape[axis]
  u_len = -(-length // m)
  runs = [[] for _ in range(m)]  # phase -> [(j, [t0, u0, count])]
  for j, tap in enumerate(taps):
    cur = None
    for t in range(tiles):
      src = _reflect_source(j + m * t, r, length)
      if src is None:
        cur = None
        continue
      q, u = src % m, src // m
      if (cur is not None and cur[0] == q and cur[1] + cur[3] == t and
          cur[2] + cur[3] == u):
        cur[3] += 1
      else:
        cur = [q, t, u, 1]
        runs[q].append((tap, cur))
  phases = []
  for q in range(m):
    acc = None
    for tap, (_, t0, u0, cnt) in runs[q]:
      pad = [(0, 0)] * tap.ndim
      pad[axis] = (u0, u_len - u0 - cnt)
      term = jnp.pad(jax.lax.slice_in_dim(tap, t0, t0 + cnt, 1, axis), pad)
      acc = term if acc is None else acc + term
    if acc is None:
      shape = list(taps[0].shape)
      shape[axis] = u_len
      acc = jnp.zeros(shape, taps[0].dtype)
    phases.append(acc)
  stacked = jnp.stack(phases, axis=axis + 1)
  shape = list(phases[0].shape)
  shape[axis] *= m
  return jax.lax.slice_in_dim(stacked.reshape(shape), 0, length, axis=axis)


def _wino_sizes(x_shape, p):
  m = WINOGRAD_TILE[p]
  th, tw = -(-x_shape[0] // m), -(-x_shape[1] // m)
  return m, m + p - 1, th, tw


def _wino_input(x, p, band=None):
  """V `[n^2, tiles, Ci]`: B^T d B of every input tile of the padded x.

  Two passes (rows, then columns), each reading its taps straight from the
  unpadded array (`_reflect_taps`). band: (t0, t1), only the tile rows
  t0 <= t < t1 (`_winograd_forward`).
  """
  m, n, th, tw = _wino_sizes(x.shape, p)
  bt = winograd_matrices(m, p)[2]
  r = (p - 1) // 2
  t0, t1 = band or (0, th)
  rows = jnp.stack(_lincomb(_reflect_taps(x, 0, m, n, t1 - t0, r, t0), bt))
  v = jnp.stack(_lincomb(_reflect_taps(rows, 2, m, n, tw, r), bt), axis=1)
  return v.reshape(n * n, (t1 - t0) * tw, x.shape[2])


def _wino_input_adjoint(dv, x_shape, p, band_rows=None):
  """Transpose of `_wino_input`: `[n^2, tiles, Ci]` -> dx `x_shape`.

  band_rows: dv is a band of that many tile rows; returns its part of the
  padded dx, `[m * band_rows + p - 1, W, Ci]` (reflection not folded).
  The column pass is written out (optimization barrier) before the row
  pass: fused, XLA recomputed it per read (36 -> 15 ms at 256x256x64).
  """
  m, n, th, tw = _wino_sizes(x_shape, p)
  bt = winograd_matrices(m, p)[2]
  h, w, c = x_shape
  r = (p - 1) // 2
  rr = r
  if band_rows is not None:
    th, rr, h = band_rows, 0, m * band_rows + p - 1
  dv = dv.reshape(n, n, th, tw, c)
  cols = _lincomb([dv[:, j] for j in range(n)], bt.T)        # [n, th, tw, C]
  rows = jax.lax.optimization_barrier(
      _reflect_taps_adjoint(cols, 2, m, r, w))                # [n, th, W, C]
  return _reflect_taps_adjoint(_lincomb(list(rows), bt.T), 0, m, rr, h)


def _wino_weights(w, transposed=False):
  """U `[n^2, Ci, Co]` (or U^T `[n^2, Co, Ci]`) = G w G^T per channel pair."""
  p = w.shape[0]
  m = WINOGRAD_TILE[p]
  g = jnp.asarray(winograd_matrices(m, p)[1], w.dtype)
  n = m + p - 1
  out = 'xyoi' if transposed else 'xyio'
  u = jnp.einsum(f'xa,abio,yb->{out}', g, w, g)
  return u.reshape(n * n, *u.shape[2:])


def _wino_weights_adjoint(du, p):
  m = WINOGRAD_TILE[p]
  g = jnp.asarray(winograd_matrices(m, p)[1], du.dtype)
  n = m + p - 1
  return jnp.einsum('xa,xyio,yb->abio', g, du.reshape(n, n, *du.shape[1:]), g)


def _wino_output(mm, out_hw, p):
  """y `[H, W, Co]` = A^T M A of every tile, tiles interleaved, cropped."""
  m = WINOGRAD_TILE[p]
  n = m + p - 1
  th, tw = -(-out_hw[0] // m), -(-out_hw[1] // m)
  at = winograd_matrices(m, p)[0]
  mm = mm.reshape(n, n, th, tw, mm.shape[-1])
  rows = jnp.stack(_lincomb([mm[i] for i in range(n)], at))    # [m, n, th, tw, C]
  cols = jnp.stack(_lincomb([rows[:, j] for j in range(n)], at), axis=3)
  y = cols.transpose(1, 0, 2, 3, 4)                     # [th, m, tw, m, C]
  y = y.reshape(th * m, tw * m, y.shape[-1])
  return y[:out_hw[0], :out_hw[1]]


def _wino_output_adjoint(dy, p):
  """Transpose of `_wino_output`: dy `[H, W, Co]` -> dM `[n^2, tiles, Co]`."""
  m = WINOGRAD_TILE[p]
  n = m + p - 1
  h, w, c = dy.shape
  th, tw = -(-h // m), -(-w // m)
  at = winograd_matrices(m, p)[0]
  if m * th > h or m * tw > w:
    dy = jnp.pad(dy, ((0, m * th - h), (0, m * tw - w), (0, 0)))
  d = dy.reshape(th, m, tw, m, c)
  rows = jnp.stack(_lincomb([d[:, i] for i in range(m)], at.T))   # [n, th, tw, m, C]
  dm = jnp.stack(_lincomb([rows[..., j, :] for j in range(m)], at.T), axis=1)
  return dm.reshape(n * n, th * tw, c)


def _bmm(a, b):
  """`[P, T, K] @ [P, K, N]` per leading index."""
  return jax.lax.dot_general(a, b, (((2,), (1,)), ((0,), (0,))))


def _bmm_tn(a, b):
  """`[P, T, K]^T @ [P, T, N]` per leading index -> `[P, K, N]`."""
  return jax.lax.dot_general(a, b, (((1,), (1,)), ((0,), (0,))))


# Images are convolved in bands of whole tile rows: each band's transformed
# input V, GEMM output M and their cotangents stay in the cache, only x, y
# (dy, dx) travel to memory. Whole-image transforms wrote and re-read
# 2.25x-sized arrays per pass. The bands are unrolled (static slices of x,
# reflection included) rather than a scan, which zero-fills and copies its
# stacked outputs and copies each band's input window.
# ~WINOGRAD_BAND_TILES tiles per band (times 36 x Ci floats of V).
WINOGRAD_BAND_TILES = 256


def _wino_bands(h, w, p):
  """Tile-row ranges [(t0, t1), ...] of the bands of an h x w image."""
  m, _, th, tw = _wino_sizes((h, w), p)
  tb = max(1, WINOGRAD_BAND_TILES // tw)
  nb = -(-th // tb)
  tb = -(-th // nb)
  return [(t0, min(th, t0 + tb)) for t0 in range(0, th, tb)]


def _reflect_pad_adjoint(d, r, n, axis):
  """Transpose of reflection padding by r along `axis` (n the unpadded
  length; rows of d past n + 2r are dropped): the interior plus the
  mirrored border strips added in place.

  The in-place adds (dynamic-update-slices) also make XLA write the result
  out once: fused into a stencil downstream (an upsampler's transpose reads
  each value several times) it would redo the bands' overlap-add per read
  (an optimization barrier does not stop that on CPU).
  """
  take = lambda a, lo, hi: jax.lax.slice_in_dim(a, lo, hi, axis=axis)
  out = take(d, r, r + n)
  if not r:
    return out
  idx = lambda lo, hi: tuple(slice(lo, hi) if i == axis else slice(None)
                             for i in range(d.ndim))
  # x[k] sits at padded r - k and r + n - 1 + (n - 1 - k) mirrored.
  out = out.at[idx(1, r + 1)].add(jnp.flip(take(d, 0, r), axis))
  return out.at[idx(n - 1 - r, n - 1)].add(
      jnp.flip(take(d, n + r, n + 2 * r), axis))


def _winograd_forward(x, w):
  p = w.shape[0]
  h, wd = x.shape[:2]
  m = WINOGRAD_TILE[p]
  u = _wino_weights(w)
  ys = [_wino_output(_bmm(_wino_input(x, p, band), u),
                     (m * (band[1] - band[0]), wd), p)
        for band in _wino_bands(h, wd, p)]
  y = ys[0] if len(ys) == 1 else jnp.concatenate(ys, 0)
  return y[:h]


@jax.custom_vjp
def winograd_conv(x: jax.Array, w: jax.Array) -> jax.Array:
  """Stride-1 reflection-padded p x p conv `[H, W, Ci] -> [H, W, Co]` by
  Winograd F(m x m, p x p), any H, W; hand-written VJP."""
  return _winograd_forward(x, w)


def winograd_conv_backward(x, w, dy):
  """(dx, dw) of `winograd_conv` for the cotangent dy `[H, W, Co]`.

  The input transform is recomputed (in the cache, band by band) rather
  than kept.
  """
  p = w.shape[0]
  h, wd, ci = x.shape
  m, r = WINOGRAD_TILE[p], (p - 1) // 2
  # U^T built as such (small): an NN batched GEMM runs ~2x faster on CPU
  # than the NT one dM @ U^T would be.
  ut = _wino_weights(w, transposed=True)
  du, parts = None, []
  for t0, t1 in _wino_bands(h, wd, p):
    dm = _wino_output_adjoint(dy[m * t0:m * t1], p)
    g = _bmm_tn(_wino_input(x, p, (t0, t1)), dm)
    du = g if du is None else du + g
    parts.append(_wino_input_adjoint(_bmm(dm, ut), x.shape, p, t1 - t0))
  # The bands' padded rows overlap by p - 1: add each band's last p - 1
  # rows into the next band's first, then the row padding's adjoint.
  halo = p - 1
  rows = []
  for i, part in enumerate(parts):
    core = part[:part.shape[0] - halo] if halo else part
    if i and halo:
      core = core + jnp.pad(parts[i - 1][-halo:],
                            ((0, core.shape[0] - halo), (0, 0), (0, 0)))
    rows.append(core)
  if halo:
    rows.append(parts[-1][-halo:])
  dxp = rows[0] if len(rows) == 1 else jnp.concatenate(rows, 0)
  return _reflect_pad_adjoint(dxp, r, h, 0), _wino_weights_adjoint(du, p)


winograd_conv.defvjp(lambda x, w: (winograd_conv(x, w), (x, w)),
                     lambda res, dy: winograd_conv_backward(*res, dy))


def _transpose_up(up, d, small_shape):
  if up in _TRANSPOSES:
    return _TRANSPOSES[up](d)
  return jax.linear_transpose(up, jax.ShapeDtypeStruct(small_shape, d.dtype))(
      d)[0]


def channel_norm(r, gamma, beta, eps=EPS):
  """Per-channel normalization over H, W (biased variance), then affine."""
  mean = jnp.mean(r, axis=(0, 1))
  var = jnp.mean(jnp.square(r - mean), axis=(0, 1))
  return (r - mean) * jax.lax.rsqrt(var + eps) * gamma + beta


def moments(y):
  """Per-channel (mean, 1/sqrt(var + eps)) of y `[H, W, C]`, two passes.

  var = E[(y - mean)^2]: DIP's conv outputs (biases, strided convs) can have
  |mean| >> std, where the one-pass E[y^2] - mean^2 of `_stats` lost float32
  precision (worst DIP 256 gradient vs float64: 3.4e-2 one-pass, 6.2e-3
  two-pass, 1.3e-2 the plain autodiff net); the second read cost ~2% of the
  DIP step (1357 vs 1384 ms, idle).
  """
  mean = jnp.mean(y, axis=(0, 1))
  var = jnp.mean(jnp.square(y - mean), axis=(0, 1))
  return mean, jax.lax.rsqrt(var + EPS)


@functools.partial(jax.custom_vjp, nondiff_argnums=(3,))
def norm_act(y, gamma, beta, act: Callable):
  """act(channel_norm(y, gamma, beta)) with a fused, hand-written backward.

  Forward: one read for the statistics, one pass for the output. Backward:
  the activation's derivative times the cotangent written once, two
  per-channel sums of it, and one pass for dy.
  """
  return _norm_act_forward(y, gamma, beta, act)[0]


def _norm_act_forward(y, gamma, beta, act):
  mean, inv = moments(y)
  scale = inv * gamma
  return act(y * scale + (beta - mean * scale)), (y, gamma, beta, mean, inv)


def _norm_act_backward(act, residuals, g):
  y, gamma, beta, mean, inv = residuals
  scale = inv * gamma
  gz = jax.vjp(act, y * scale + (beta - mean * scale))[1](g)[0]
  m = y.shape[0] * y.shape[1]
  flat, gflat = y.reshape(m, y.shape[2]), gz.reshape(m, y.shape[2])
  dbeta = jnp.sum(gflat, axis=0)
  # sum(gz * xhat) with xhat = (y - mean) * inv, from a dot with y.
  dgamma = inv * (jnp.einsum('pc,pc->c', gflat, flat) - mean * dbeta)
  dy = scale * (gz - dbeta / m - (y - mean) * (inv * dgamma / m))
  return dy, dgamma, dbeta


norm_act.defvjp(_norm_act_forward, _norm_act_backward)


def hidden_layer_reference(x, w, gamma, beta, up: Callable | None):
  """conv -> up -> relu -> norm, written plainly (autodiff everywhere)."""
  y = conv1x1(x, w)
  if up is not None:
    y = up(y)
  return channel_norm(jax.nn.relu(y), gamma, beta)


def _stats(y):
  r = jax.nn.relu(y)
  m = r.shape[0] * r.shape[1]
  flat = r.reshape(m, r.shape[2])
  mean = jnp.sum(flat, axis=0) / m
  # E[r^2] - mean^2 (r >= 0 is O(1) after normalization upstream). The sum of
  # squares as a per-channel dot reads r where jnp.square would first write
  # r^2 out in full (XLA on CPU does not fuse producers into reductions).
  sq = jnp.einsum('pc,pc->c', flat, flat) / m
  var = jnp.maximum(sq - jnp.square(mean), 0.0)
  return r, mean, jax.lax.rsqrt(var + EPS)


@functools.partial(jax.custom_vjp, nondiff_argnums=(4,))
def hidden_layer(x, w, gamma, beta, up: Callable | None):
  """conv -> up -> relu -> norm with a fused, hand-written backward pass."""
  return _forward(x, w, gamma, beta, up)[0]


def _forward(x, w, gamma, beta, up):
  y = conv1x1(x, w)
  if up is not None:
    y = up(y)
  r, mean, inv = _stats(y)
  scale = inv * gamma
  out = r * scale + (beta - mean * scale)
  return out, (x, w, gamma, y, mean, inv)


def _backward(up, residuals, g):
  x, w, gamma, y, mean, inv = residuals
  r = jax.nn.relu(y)
  xhat = (r - mean) * inv
  m = y.shape[0] * y.shape[1]
  dbeta = jnp.sum(g, axis=(0, 1))
  dgamma = jnp.sum(g * xhat, axis=(0, 1))
  # d/dr of normalization, masked by relu'(y).
  dr = (gamma * inv) * (g - dbeta / m - xhat * (dgamma / m))
  dx, dw, _ = _conv_up_backward(up, x, w, jnp.where(y > 0, dr, 0.0))
  return dx, dw, dgamma, dbeta


def _conv_up_backward(up, x, w, dy):
  """VJP of up(conv(x, w)) for dy [H', W', Co]: (dx, dw, dy at x's size
  [H*W, Co]); w is `[Ci, Co]` or `[p, p, Ci, Co]` (`conv`)."""
  if up is not None:
    dy = _transpose_up(up, dy, (x.shape[0], x.shape[1], w.shape[-1]))
  h, wd, ci = x.shape
  dy2 = dy.reshape(h * wd, w.shape[-1])
  if w.ndim == 4:
    if w.shape[0] > 1 and uses_winograd(w.shape[0]):
      dx, dw = winograd_conv_backward(x, w, dy)
    else:
      dx, dw = jax.vjp(conv, x, w)[1](dy)
    return dx, dw, dy2
  dw = x.reshape(h * wd, ci).T @ dy2
  dx = (dy2 @ w.T).reshape(x.shape)
  return dx, dw, dy2


def _fwd(x, w, gamma, beta, up):
  return _forward(x, w, gamma, beta, up)


hidden_layer.defvjp(_fwd, _backward)


# ------------------------------------------------------- normalization folded
# The network written so that no normalized activation is ever stored: layer
# i returns r = relu(up(.)) and its statistics (mean, inv = 1/std), and the
# affine normalization r * scale + shift (scale = gamma * inv, shift = beta -
# mean * scale) is folded into the NEXT 1x1 conv:
#     (r * scale + shift) @ w = r @ (scale[:, None] * w) + shift @ w.
# Per full-resolution activation that saves the normalized array's write and
# read in the forward; in the backward, the per-channel sums of the
# normalization (dgamma, dbeta) are no longer passes over the activation:
# they come out of the next layer's dW GEMM (d scale = rowsum(dW_eff * w)),
# and the layer's backward is ONE fused pass (relu mask, statistics terms,
# upsampler transpose). Same function as `hidden_layer`, reassociated.
# A p x p reflection-padded conv folds the same way (padding copies values,
# so every tap reads r * scale + shift): conv(r * scale + shift, w) =
# conv(r, w * scale[:, None]) + shift @ sum_ab w[a, b].


@functools.partial(jax.custom_vjp, nondiff_argnums=(3,))
def folded_layer(x, w, c, up: Callable | None):
  """relu(up(conv(x, w) + c)) and its per-channel (mean, 1/sqrt(var + eps)).

  w: `[Ci, Co]` (1x1) or `[p, p, Ci, Co]` (reflection padded, `conv`).
  """
  return _folded_forward(x, w, c, up)[0]


def _folded_forward(x, w, c, up):
  y = conv(x, w) + c
  if up is not None:
    y = up(y)
  r, mean, inv = _stats(y)
  return (r, mean, inv), (x, w, r, mean, inv)


def _folded_backward(up, residuals, cotangents):
  x, w, r, mean, inv = residuals
  gr, gmean, ginv = cotangents
  m = r.shape[0] * r.shape[1]
  # mean = E[r], var = E[r^2] - mean^2, inv = (var + eps)^(-1/2).
  dvar = -0.5 * ginv * inv ** 3
  dr = gr + (gmean + 2.0 * dvar * (r - mean)) / m
  dx, dw, dy2 = _conv_up_backward(up, x, w, jnp.where(r > 0, dr, 0.0))
  return dx, dw, jnp.sum(dy2, axis=0)


folded_layer.defvjp(lambda x, w, c, up: _folded_forward(x, w, c, up),
                    _folded_backward)


def normalized_chain(x, layers_params, ups):
  """Hidden layers conv -> up -> relu -> norm with the norm folded forward.

  layers_params: dicts with 'w', 'gamma', 'beta'; ups: each layer's
  upsampler or None. Yields (r, scale, shift) per layer: the layer's output
  is r * scale + shift (computed only where a caller uses it).
  """
  scale = shift = None
  for layer, up in zip(layers_params, ups):
    w = layer['w']
    if scale is None:
      w_eff, c = w, jnp.zeros((w.shape[-1],), w.dtype)
    elif w.ndim == 2:
      w_eff, c = scale[:, None] * w, shift @ w
    else:  # p x p, reflection padded: every tap sees r * scale + shift.
      w_eff, c = w * scale[:, None], shift @ jnp.sum(w, axis=(0, 1))
    x, mean, inv = folded_layer(x, w_eff, c, up)
    scale = layer['gamma'] * inv
    shift = layer['beta'] - mean * scale
    yield x, scale, shift
