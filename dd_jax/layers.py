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

from dd_jax import upsample as upsample_lib

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


def hidden_layer_reference(x, w, gamma, beta, up: Callable | None):
  """conv -> up -> relu -> norm, written plainly (autodiff everywhere)."""
  y = conv1x1(x, w)
  if up is not None:
    y = up(y)
  return channel_norm(jax.nn.relu(y), gamma, beta)


def _stats(y):
  r = jax.nn.relu(y)
  mean = jnp.mean(r, axis=(0, 1))
  # E[r^2] - mean^2 in one pass; r >= 0 is O(1) after normalization upstream.
  var = jnp.maximum(jnp.mean(jnp.square(r), axis=(0, 1)) - jnp.square(mean),
                    0.0)
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
  dy = jnp.where(y > 0, dr, 0.0)
  if up is not None:
    dy = _transpose_up(up, dy, (x.shape[0], x.shape[1], w.shape[1]))
  h, wd, ci = x.shape
  dy2 = dy.reshape(h * wd, w.shape[1])
  dw = x.reshape(h * wd, ci).T @ dy2
  dx = (dy2 @ w.T).reshape(x.shape)
  return dx, dw, dgamma, dbeta


def _fwd(x, w, gamma, beta, up):
  return _forward(x, w, gamma, beta, up)


hidden_layer.defvjp(_fwd, _backward)
