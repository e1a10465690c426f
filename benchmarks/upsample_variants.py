"""Micro-benchmark of bilinear x2 forward/transpose variants at 256->512 x64 (levers 2-3).

    PYTHONPATH=$PWD python benchmarks/upsample_variants.py
"""
import time, statistics
import jax, jax.numpy as jnp, numpy as np
from dd_jax.models import upsample

def up1d_pad(x, axis):
  n = x.shape[axis]
  take = jax.lax.slice_in_dim
  prev = jnp.concatenate([take(x, 0, 1, axis=axis), take(x, 0, n - 1, axis=axis)], axis)
  nxt = jnp.concatenate([take(x, 1, n, axis=axis), take(x, n - 1, n, axis=axis)], axis)
  even = 0.25 * prev + 0.75 * x
  odd = 0.75 * x + 0.25 * nxt
  st = jnp.stack([even, odd], axis + 1)
  s = list(x.shape); s[axis] *= 2
  return st.reshape(s)

def up_onepass(x):
  h, w, c = x.shape
  xp = jnp.pad(x, ((1, 1), (1, 1), (0, 0)), mode='edge')
  rows = [0.25 * xp[0:h] + 0.75 * xp[1:h + 1], 0.75 * xp[1:h + 1] + 0.25 * xp[2:h + 2]]
  outs = []
  for r in rows:
    cols = [0.25 * r[:, 0:w] + 0.75 * r[:, 1:w + 1], 0.75 * r[:, 1:w + 1] + 0.25 * r[:, 2:w + 2]]
    outs.append(jnp.stack(cols, 2))  # h, w, 2, c
  return jnp.stack(outs, 1).reshape(2 * h, 2 * w, c)

def tr1d(d, axis):
  s = list(d.shape); n = s[axis] // 2
  d = d.reshape(s[:axis] + [n, 2] + s[axis + 1:])
  e = jax.lax.index_in_dim(d, 0, axis + 1, keepdims=False)
  o = jax.lax.index_in_dim(d, 1, axis + 1, keepdims=False)
  take = jax.lax.slice_in_dim
  a = jnp.concatenate([take(e, 1, n, axis=axis), take(o, n - 1, n, axis=axis)], axis)
  b = jnp.concatenate([take(e, 0, 1, axis=axis), take(o, 0, n - 1, axis=axis)], axis)
  return 0.75 * (e + o) + 0.25 * (a + b)

def tr_sep(d):
  return tr1d(tr1d(d, 1), 0)

def tr_auto(d):
  h, w, c = d.shape
  return jax.linear_transpose(upsample.bilinear2, jax.ShapeDtypeStruct((h // 2, w // 2, c), d.dtype))(d)[0]

x = jax.random.uniform(jax.random.key(0), (256, 256, 64))
d = jax.random.uniform(jax.random.key(1), (512, 512, 64))
y = jax.random.uniform(jax.random.key(1), (512, 512, 64))
ref = upsample.bilinear2(x)
print('fwd err', float(jnp.abs(up_onepass(x) - ref).max()))
print('tr err', float(jnp.abs(tr_sep(d) - tr_auto(d)).max()))
# with fused producer, like in the backward
fs = {
 'fwd_cur': (jax.jit(upsample.bilinear2), (x,)),
 'fwd_one': (jax.jit(up_onepass), (x,)),
 'tr_auto': (jax.jit(lambda d, y: tr_auto(jnp.where(y > 0.5, d * 1.5 - 0.1, 0.))), (d, y)),
 'tr_sep': (jax.jit(lambda d, y: tr_sep(jnp.where(y > 0.5, d * 1.5 - 0.1, 0.))), (d, y)),
 'x*2': (jax.jit(lambda y: y * 2), (y,)),
}
ts = {k: [] for k in fs}
for k, (f, a) in fs.items(): jax.block_until_ready(f(*a))
for _ in range(7):
  for k, (f, a) in fs.items():
    t = time.perf_counter(); jax.block_until_ready(f(*a)); ts[k].append(time.perf_counter() - t)
for k in ts: print(k, round(statistics.median(ts[k]) * 1e3, 1))

def tr1d_strided(d, axis):
  n = d.shape[axis] // 2
  take = jax.lax.slice_in_dim
  e = take(d, 0, 2 * n, 2, axis=axis)
  o = take(d, 1, 2 * n, 2, axis=axis)
  a = jnp.concatenate([take(e, 1, n, axis=axis), take(o, n - 1, n, axis=axis)], axis)
  b = jnp.concatenate([take(e, 0, 1, axis=axis), take(o, 0, n - 1, axis=axis)], axis)
  return 0.75 * (e + o) + 0.25 * (a + b)

def tr_2d_onepass(d):
  # pad the fine grid by edge? use strided slices of padded d
  H, W, c = d.shape; h, w = H // 2, W // 2
  # row pass weights: dx_row[i] = .75 d[2i] + .75 d[2i+1] + .25 d[2i+2] (or d[2i+1] at end) + .25 d[2i-1] (or d[0] at start)
  dp = jnp.concatenate([d[:1], d, d[-1:]], 0)  # index shift by 1: dp[k] = d[k-1], clamped
  # careful: at start B[0]=e[0]=d[0] -> dp[0]=d[0] ok; at end A[n-1]=o[n-1]=d[2n-1] -> dp[2n+1]=d[2n-1] ok
  r = (0.25 * dp[0:2 * h:2] + 0.75 * dp[1:2 * h + 1:2] + 0.75 * dp[2:2 * h + 2:2] + 0.25 * dp[3:2 * h + 3:2])
  rp = jnp.concatenate([r[:, :1], r, r[:, -1:]], 1)
  return (0.25 * rp[:, 0:2 * w:2] + 0.75 * rp[:, 1:2 * w + 1:2] + 0.75 * rp[:, 2:2 * w + 2:2] + 0.25 * rp[:, 3:2 * w + 3:2])

def tr_sep_strided(d):
  return tr1d_strided(tr1d_strided(d, 1), 0)
print('tr2 err', float(jnp.abs(tr_2d_onepass(d) - tr_auto(d)).max()), float(jnp.abs(tr_sep_strided(d) - tr_auto(d)).max()))
prod = lambda d, y: jnp.where(y > 0.5, d * 1.5 - 0.1, 0.)
fs = {
 'tr_auto': (jax.jit(lambda d, y: tr_auto(prod(d, y))), (d, y)),
 'tr_strided': (jax.jit(lambda d, y: tr_sep_strided(prod(d, y))), (d, y)),
 'tr_2d': (jax.jit(lambda d, y: tr_2d_onepass(prod(d, y))), (d, y)),
 'tr_2d_barrier': (jax.jit(lambda d, y: tr_2d_onepass(jax.lax.optimization_barrier(prod(d, y)))), (d, y)),
 'tr_auto_nop': (jax.jit(tr_auto), (d,)),
 'prod': (jax.jit(prod), (d, y)),
}
ts = {k: [] for k in fs}
for k, (f, a) in fs.items(): jax.block_until_ready(f(*a))
for _ in range(7):
  for k, (f, a) in fs.items():
    t = time.perf_counter(); jax.block_until_ready(f(*a)); ts[k].append(time.perf_counter() - t)
for k in ts: print(k, round(statistics.median(ts[k]) * 1e3, 1))
