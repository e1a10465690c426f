"""The fast hidden layer (hand-written VJP) and the bilinear x2 stencil.

References: an independent numpy float64 layer (REFERENCE.md section 1
equations), float64 central finite differences of it for the gradients,
plain autodiff (`hidden_layer_reference`), jax.image.resize and
jax.linear_transpose.
"""

import numpy as np
import pytest

import jax
import jax.numpy as jnp

from dd_jax.models import layers
from dd_jax.models import upsample

UPS = {'bilinear': upsample.bilinear2, 'nearest': upsample.nearest2,
       'none': None}


# ------------------------------------------------------------ numpy float64
def np_bilinear2(x):
  """out[2i] = .25 x[i-1] + .75 x[i], out[2i+1] = .75 x[i] + .25 x[i+1]."""
  def along(a, axis):
    n = a.shape[axis]
    idx = np.arange(n)
    prev = np.take(a, np.maximum(idx - 1, 0), axis=axis)
    nxt = np.take(a, np.minimum(idx + 1, n - 1), axis=axis)
    out = np.zeros(a.shape[:axis] + (2 * n,) + a.shape[axis + 1:])
    sl = [slice(None)] * a.ndim
    sl[axis] = slice(0, None, 2)
    out[tuple(sl)] = 0.25 * prev + 0.75 * a
    sl[axis] = slice(1, None, 2)
    out[tuple(sl)] = 0.75 * a + 0.25 * nxt
    return out
  return along(along(np.asarray(x, np.float64), 0), 1)


def np_nearest2(x):
  return np.repeat(np.repeat(np.asarray(x, np.float64), 2, 0), 2, 1)


NP_UPS = {'bilinear': np_bilinear2, 'nearest': np_nearest2, 'none': None}


def np_layer(x, w, gamma, beta, up_name):
  y = np.einsum('hwc,cd->hwd', np.float64(x), np.float64(w))
  if NP_UPS[up_name] is not None:
    y = NP_UPS[up_name](y)
  r = np.maximum(y, 0.0)
  mean = r.mean(axis=(0, 1))
  var = ((r - mean) ** 2).mean(axis=(0, 1))
  return (r - mean) / np.sqrt(var + 1e-5) * gamma + beta


def _inputs(seed, h=6, w=5, ci=4, co=3):
  rng = np.random.default_rng(seed)
  x = rng.normal(size=(h, w, ci)).astype(np.float32)
  wt = rng.normal(size=(ci, co)).astype(np.float32) / np.sqrt(ci)
  gamma = rng.uniform(0.5, 1.5, co).astype(np.float32)
  beta = rng.normal(size=co).astype(np.float32)
  return x, wt, gamma, beta


# ------------------------------------------------------------------- stencil
@pytest.mark.parametrize('shape', [(4, 6, 3), (1, 1, 2), (5, 3, 1), (2, 7, 4)])
def test_bilinear2_matches_numpy_and_resize(shape):
  x = np.random.default_rng(0).normal(size=shape).astype(np.float32)
  got = np.asarray(jax.jit(upsample.bilinear2)(x))
  np.testing.assert_allclose(got, np_bilinear2(x), atol=1e-6)
  h, w, c = shape
  resized = jax.image.resize(x, (2 * h, 2 * w, c), 'bilinear')
  np.testing.assert_allclose(got, np.asarray(resized), atol=1e-5)


@pytest.mark.parametrize('shape', [(4, 6, 3), (1, 1, 2), (5, 3, 1)])
def test_bilinear2_transpose_is_adjoint(shape):
  rng = np.random.default_rng(1)
  x = rng.normal(size=shape)
  d = rng.normal(size=(2 * shape[0], 2 * shape[1], shape[2]))
  dt = np.asarray(upsample.bilinear2_transpose(jnp.asarray(d, jnp.float32)),
                  np.float64)
  # <up(x), d> = <x, up^T(d)>, against the numpy float64 stencil.
  np.testing.assert_allclose(np.sum(np_bilinear2(x) * d), np.sum(x * dt),
                             rtol=1e-5)
  derived = jax.linear_transpose(
      upsample.bilinear2, jax.ShapeDtypeStruct(shape, jnp.float32))(
          jnp.asarray(d, jnp.float32))[0]
  np.testing.assert_allclose(dt, np.asarray(derived), atol=1e-5)


# ---------------------------------------------------------------- the layer
@pytest.mark.parametrize('up_name', ['bilinear', 'none', 'nearest'])
def test_forward_matches_numpy_and_reference(up_name):
  x, w, gamma, beta = _inputs(2)
  up = UPS[up_name]
  fast = jax.jit(lambda *a: layers.hidden_layer(*a, up))(x, w, gamma, beta)
  ref = layers.hidden_layer_reference(x, w, gamma, beta, up)
  want = np_layer(x, w, gamma, beta, up_name)
  np.testing.assert_allclose(np.asarray(fast), want, atol=1e-5, rtol=1e-5)
  np.testing.assert_allclose(np.asarray(fast), np.asarray(ref), atol=1e-5)


def _loss_fn(layer, up, cot):
  return lambda x, w, g, b: jnp.sum(layer(x, w, g, b, up) * cot)


@pytest.mark.parametrize('up_name', ['bilinear', 'none', 'nearest'])
def test_gradients_match_autodiff_and_finite_differences(up_name):
  x, w, gamma, beta = _inputs(3)
  up = UPS[up_name]
  out_shape = np_layer(x, w, gamma, beta, up_name).shape
  cot = np.random.default_rng(4).normal(size=out_shape).astype(np.float32)
  grads = jax.jit(jax.grad(_loss_fn(layers.hidden_layer, up, cot),
                           argnums=(0, 1, 2, 3)))(x, w, gamma, beta)
  ref = jax.grad(_loss_fn(layers.hidden_layer_reference, up, cot),
                 argnums=(0, 1, 2, 3))(x, w, gamma, beta)
  for g, r in zip(grads, ref):
    np.testing.assert_allclose(np.asarray(g), np.asarray(r), atol=1e-5,
                               rtol=1e-5)
  # float64 central differences of the numpy layer along random directions.
  args = [np.float64(a) for a in (x, w, gamma, beta)]
  f = lambda a: np.sum(np_layer(*a, up_name) * cot)
  rng = np.random.default_rng(5)
  for i, g in enumerate(grads):
    for _ in range(3):
      v = rng.normal(size=args[i].shape)
      plus, minus = list(args), list(args)
      plus[i], minus[i] = args[i] + 1e-6 * v, args[i] - 1e-6 * v
      fd = (f(plus) - f(minus)) / 2e-6
      an = float(np.sum(np.asarray(g, np.float64) * v))
      assert abs(fd - an) <= 1e-4 * (1 + abs(fd)), (i, fd, an)


def test_relu_dead_channel_and_constant_input_are_finite():
  """A channel that is all zero after the ReLU: var 0, eps keeps it finite."""
  x, w, gamma, beta = _inputs(6)
  w = w.copy()
  w[:, 0] = 0.0
  cot = np.random.default_rng(8).normal(size=(12, 10, 3)).astype(np.float32)
  grads = jax.grad(_loss_fn(layers.hidden_layer, upsample.bilinear2, cot),
                   argnums=(0, 1, 2, 3))(x, w, gamma, beta)
  ref = jax.grad(_loss_fn(layers.hidden_layer_reference, upsample.bilinear2,
                          cot), argnums=(0, 1, 2, 3))(x, w, gamma, beta)
  for g, r in zip(grads, ref):
    assert np.all(np.isfinite(np.asarray(g)))
    np.testing.assert_allclose(np.asarray(g), np.asarray(r), atol=1e-4)


def test_vmap_equals_loop():
  xs, ws, gs, bs = zip(*[_inputs(10 + i) for i in range(3)])
  xs, ws, gs, bs = map(np.stack, (xs, ws, gs, bs))
  cot = np.random.default_rng(7).normal(size=(12, 10, 3)).astype(np.float32)
  grad = jax.grad(_loss_fn(layers.hidden_layer, upsample.bilinear2, cot),
                  argnums=(0, 1, 2, 3))
  batched = jax.jit(jax.vmap(grad))(xs, ws, gs, bs)
  for i in range(3):
    single = grad(xs[i], ws[i], gs[i], bs[i])
    for b, s in zip(batched, single):
      np.testing.assert_allclose(np.asarray(b[i]), np.asarray(s), atol=1e-5,
                                 rtol=1e-5)


# ------------------------------------------------- normalization folded forward
def _folded_plain(x, w, c, up):
  """relu(up(x w + c)), mean, 1/std: the folded layer by plain autodiff."""
  y = jnp.einsum('hwc,cd->hwd', x, w) + c
  if up is not None:
    y = up(y)
  r = jax.nn.relu(y)
  mean = jnp.mean(r, axis=(0, 1))
  var = jnp.mean(jnp.square(r - mean), axis=(0, 1))
  return r, mean, jax.lax.rsqrt(var + layers.EPS)


def _folded_grads(plain, x, w, c, up, rng):
  """(jitted grads of `layers.folded_layer`, autodiff grads of `plain`) of
  the outputs' sum against random cotangents, w.r.t. x, w, c."""
  cots = [rng.normal(size=o.shape).astype(np.float32)
          for o in plain(x, w, c, up)]

  def loss(layer):
    return lambda *a: sum(jnp.sum(o * t) for o, t in zip(layer(*a, up), cots))

  got = jax.jit(jax.grad(loss(layers.folded_layer), argnums=(0, 1, 2)))(x, w, c)
  return got, jax.grad(loss(plain), argnums=(0, 1, 2))(x, w, c)


@pytest.mark.parametrize('up_name', ['bilinear', 'none', 'nearest'])
def test_folded_layer_gradients_match_autodiff(up_name):
  x, w, _, c = _inputs(11)
  up = UPS[up_name]
  got, want = _folded_grads(_folded_plain, x, w, c, up,
                            np.random.default_rng(12))
  for g, r in zip(got, want):
    np.testing.assert_allclose(np.asarray(g), np.asarray(r), atol=2e-5,
                               rtol=2e-5)
  for o, r in zip(layers.folded_layer(x, w, c, up),
                  _folded_plain(x, w, c, up)):
    np.testing.assert_allclose(np.asarray(o), np.asarray(r), atol=1e-5)


def test_normalized_chain_equals_layer_by_layer_numpy():
  """Three layers with the norm folded forward == the float64 layer chain."""
  rng = np.random.default_rng(13)
  x = rng.uniform(0, 0.1, size=(3, 4, 5)).astype(np.float32)
  params = []
  for _ in range(3):
    params.append(dict(
        w=(rng.normal(size=(5, 5)) / np.sqrt(5)).astype(np.float32),
        gamma=rng.uniform(0.5, 1.5, 5).astype(np.float32),
        beta=rng.normal(size=5).astype(np.float32)))
  ups = [upsample.bilinear2, upsample.bilinear2, None]
  want = x.astype(np.float64)
  got = list(layers.normalized_chain(jnp.asarray(x), params, ups))
  for (r, scale, shift), p, name in zip(got, params,
                                        ['bilinear', 'bilinear', 'none']):
    want = np_layer(want, p['w'], p['gamma'], p['beta'], name)
    np.testing.assert_allclose(np.asarray(r * scale + shift), want,
                               atol=2e-5)


# ------------------------------------------------------- p x p convs (Winograd)
def np_conv(x, w, stride=1):
  """float64 reflection-padded p x p correlation, `[H, W, Ci] -> [Ho, Wo, Co]`."""
  x, w = np.float64(x), np.float64(w)
  p = w.shape[0]
  r = (p - 1) // 2
  xp = np.pad(x, ((r, r), (r, r), (0, 0)), mode='reflect')
  ho, wo = (x.shape[0] - 1) // stride + 1, (x.shape[1] - 1) // stride + 1
  out = np.zeros((ho, wo, w.shape[3]))
  for a in range(p):
    for b in range(p):
      patch = xp[a:a + (ho - 1) * stride + 1:stride,
                 b:b + (wo - 1) * stride + 1:stride]
      out += np.einsum('hwc,cd->hwd', patch, w[a, b])
  return out


@pytest.mark.parametrize('m,p', [(2, 3), (4, 3), (2, 5), (4, 5)])
def test_winograd_matrices_compute_correlation_exactly(m, p):
  at, g, bt = layers.winograd_matrices(m, p)
  rng = np.random.default_rng(20)
  d, taps = rng.normal(size=m + p - 1), rng.normal(size=p)
  want = [np.dot(d[i:i + p], taps) for i in range(m)]
  np.testing.assert_allclose(at @ ((g @ taps) * (bt @ d)), want, atol=1e-12)


def _conv_inputs(seed, h, w, p, ci=3, co=4):
  rng = np.random.default_rng(seed)
  x = np.maximum(rng.normal(size=(h, w, ci)), 0).astype(np.float32)
  wt = (rng.uniform(-1, 1, size=(p, p, ci, co)) / np.sqrt(p * p * ci)).astype(
      np.float32)
  return x, wt


_WINO_GRAD = jax.jit(jax.value_and_grad(
    lambda x, w, cot: jnp.sum(layers.winograd_conv(x, w) * cot), (0, 1)))
_IM2COL_GRAD = jax.jit(jax.value_and_grad(
    lambda x, w, cot: jnp.sum(layers.im2col_conv(x, w) * cot), (0, 1)))


@pytest.mark.parametrize('p', [3, 5])
@pytest.mark.parametrize('hw', [(16, 16), (13, 10)])
def test_winograd_conv_matches_numpy_and_autodiff(p, hw):
  """Forward vs float64 numpy; hand-written VJP vs autodiff of im2col."""
  x, w = _conv_inputs(21, *hw, p)
  want = np_conv(x, w)
  got = np.asarray(jax.jit(layers.winograd_conv)(x, w))
  np.testing.assert_allclose(got, want, atol=2e-5 * want.std())
  np.testing.assert_allclose(np.asarray(layers.im2col_conv(x, w)), want,
                             atol=2e-5 * want.std())
  cot = np.random.default_rng(22).normal(size=want.shape).astype(np.float32)
  (_, (dx, dw)), (_, (rx, rw)) = _WINO_GRAD(x, w, cot), _IM2COL_GRAD(x, w, cot)
  np.testing.assert_allclose(dx, rx, atol=2e-5 * np.abs(rx).max())
  np.testing.assert_allclose(dw, rw, atol=2e-5 * np.abs(rw).max())


@pytest.mark.parametrize('p', [3, 5])
def test_winograd_conv_in_many_bands_matches_numpy_and_autodiff(
    p, monkeypatch):
  """Bands of one tile row (the bands' overlap-add in the backward, a
  ragged last band): forward vs float64 numpy, VJP vs autodiff of im2col."""
  monkeypatch.setattr(layers, 'WINOGRAD_BAND_TILES', 1)
  assert len(layers._wino_bands(13, 10, p)) == 4
  x, w = _conv_inputs(23, 13, 10, p)
  want = np_conv(x, w)
  grad = jax.jit(jax.value_and_grad(  # traced here: reads the band size
      lambda x, w, cot: jnp.sum(layers.winograd_conv(x, w) * cot), (0, 1)))
  got = np.asarray(jax.jit(layers.winograd_conv)(x, w))
  np.testing.assert_allclose(got, want, atol=2e-5 * want.std())
  cot = np.random.default_rng(24).normal(size=want.shape).astype(np.float32)
  (_, (dx, dw)), (_, (rx, rw)) = grad(x, w, cot), _IM2COL_GRAD(x, w, cot)
  np.testing.assert_allclose(dx, rx, atol=2e-5 * np.abs(rx).max())
  np.testing.assert_allclose(dw, rw, atol=2e-5 * np.abs(rw).max())


def test_conv_dispatch_and_stride2_match_numpy():
  x, w = _conv_inputs(23, 9, 12, 3)
  np.testing.assert_allclose(np.asarray(layers.conv(x, w, 2)),
                             np_conv(x, w, 2), atol=1e-5)
  np.testing.assert_allclose(np.asarray(layers.conv(x, w)), np_conv(x, w),
                             atol=1e-5)
  w1 = w[1:2, 1:2]
  np.testing.assert_allclose(np.asarray(layers.conv(x, w1)), np_conv(x, w1),
                             atol=1e-6)


def test_winograd_vmap_equals_loop():
  xs, ws = zip(*[_conv_inputs(30 + i, 8, 12, 3) for i in range(2)])
  xs, ws = np.stack(xs), np.stack(ws)
  cot = np.random.default_rng(31).normal(size=(2, 8, 12, 4)).astype(
      np.float32)
  batched = jax.jit(jax.vmap(_WINO_GRAD))(xs, ws, cot)
  for i in range(2):
    single = _WINO_GRAD(xs[i], ws[i], cot[i])
    for b, s in zip(jax.tree.leaves(batched), jax.tree.leaves(single)):
      np.testing.assert_allclose(np.asarray(b)[i], np.asarray(s), atol=1e-5)


def _folded_plain_pxp(x, w, c, up):
  """relu(up(conv(x, w) + c)), mean, 1/std with im2col convs, autodiff."""
  y = layers.im2col_conv(x, w) + c
  if up is not None:
    y = up(y)
  r = jax.nn.relu(y)
  mean = jnp.mean(r, axis=(0, 1))
  var = jnp.mean(jnp.square(r - mean), axis=(0, 1))
  return r, mean, jax.lax.rsqrt(var + layers.EPS)


@pytest.mark.parametrize('p', [3, 5])
def test_folded_pxp_layer_gradients_match_autodiff(p):
  x, w = _conv_inputs(24, 8, 6, p, ci=4, co=3)
  c = np.random.default_rng(25).normal(size=3).astype(np.float32)
  up = upsample.bilinear2
  got, want = _folded_grads(_folded_plain_pxp, x, w, c, up,
                            np.random.default_rng(26))
  for g, r in zip(got, want):
    np.testing.assert_allclose(np.asarray(g), np.asarray(r),
                               atol=2e-5 * np.abs(r).max())


def test_normalized_chain_pxp_equals_layer_by_layer_numpy():
  """p x p layers with the norm folded forward == the float64 chain."""
  rng = np.random.default_rng(27)
  x = rng.uniform(0, 0.1, size=(4, 5, 4)).astype(np.float32)
  params = [dict(w=(rng.uniform(-1, 1, size=(3, 3, 4, 4)) / 6).astype(
      np.float32), gamma=rng.uniform(0.5, 1.5, 4).astype(np.float32),
                 beta=rng.normal(size=4).astype(np.float32))
            for _ in range(3)]
  ups = [upsample.bilinear2, upsample.bilinear2, None]
  got = jax.jit(lambda x, ps: [r * s + t for r, s, t in
                               layers.normalized_chain(x, ps, ups)])(x, params)
  want = np.float64(x)
  for out, pr, up in zip(got, params, ['bilinear', 'bilinear', 'none']):
    y = np_conv(want, pr['w'])
    if up == 'bilinear':
      y = np_bilinear2(y)
    r = np.maximum(y, 0.0)
    want = ((r - r.mean((0, 1))) / np.sqrt(r.var((0, 1)) + 1e-5) * pr['gamma']
            + pr['beta'])
    np.testing.assert_allclose(np.asarray(out), want, atol=3e-5)


# --------------------------------------------------- norm + activation (DIP)
def test_norm_act_matches_numpy_and_autodiff():
  rng = np.random.default_rng(28)
  y = (rng.normal(size=(9, 7, 5)) + 0.5).astype(np.float32)
  gamma = rng.uniform(0.5, 1.5, 5).astype(np.float32)
  beta = rng.normal(size=5).astype(np.float32)
  cot = rng.normal(size=y.shape).astype(np.float32)
  act = lambda v: jax.nn.leaky_relu(v, 0.2)
  z = ((np.float64(y) - y.mean((0, 1))) / np.sqrt(np.float64(y).var((0, 1)) +
                                                  1e-5) * gamma + beta)
  np.testing.assert_allclose(np.asarray(layers.norm_act(y, gamma, beta, act)),
                             np.where(z > 0, z, 0.2 * z), atol=1e-5)
  f = lambda fn: lambda *a: jnp.sum(fn(*a) * cot)
  got = jax.jit(jax.grad(f(lambda *a: layers.norm_act(*a, act)),
                         (0, 1, 2)))(y, gamma, beta)
  want = jax.grad(f(lambda y, g, b: act(layers.channel_norm(y, g, b))),
                  (0, 1, 2))(y, gamma, beta)
  for g, r in zip(got, want):
    np.testing.assert_allclose(np.asarray(g), np.asarray(r), atol=1e-5)
