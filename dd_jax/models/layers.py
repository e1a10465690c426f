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

  The p x p conv is one matmul over p^2 shifted copies (im2col): under vmap
  with per-image weights it stays a batched matmul, where lax.conv becomes a
  grouped convolution that is several times slower on CPU.
  """
  if w.ndim == 2:
    return conv1x1(x, w)
  p = w.shape[0]
  r = (p - 1) // 2
  h, wd = x.shape[0], x.shape[1]
  xp = jnp.pad(x, ((r, r), (r, r), (0, 0)), mode='reflect') if r else x
  ho, wo = (h - 1) // stride + 1, (wd - 1) // stride + 1
  patches = jnp.concatenate(
      [xp[a:a + (ho - 1) * stride + 1:stride, b:b + (wo - 1) * stride + 1:stride]
       for a in range(p) for b in range(p)], axis=-1)
  return conv1x1(patches, w.reshape(p * p * w.shape[2], w.shape[3]))


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
  """VJP of up(x @ w) for dy [H', W', Co]: (dx, dw, dy at x's size [H*W, Co])."""
  if up is not None:
    dy = _transpose_up(up, dy, (x.shape[0], x.shape[1], w.shape[1]))
  h, wd, ci = x.shape
  dy2 = dy.reshape(h * wd, w.shape[1])
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


@functools.partial(jax.custom_vjp, nondiff_argnums=(3,))
def folded_layer(x, w, c, up: Callable | None):
  """relu(up(x @ w + c)) and its per-channel (mean, 1/sqrt(var + eps))."""
  return _folded_forward(x, w, c, up)[0]


def _folded_forward(x, w, c, up):
  y = conv1x1(x, w) + c
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
      w_eff, c = w, jnp.zeros((w.shape[1],), w.dtype)
    else:
      w_eff, c = scale[:, None] * w, shift @ w
    x, mean, inv = folded_layer(x, w_eff, c, up)
    scale = layer['gamma'] * inv
    shift = layer['beta'] - mean * scale
    yield x, scale, shift
