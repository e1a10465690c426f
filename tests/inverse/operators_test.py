"""Operators against numpy / scipy / PIL references, adjoints, noise models."""

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest
import scipy.ndimage

from dd_jax.inverse import noise
from dd_jax.inverse import operators
from dd_jax.errors import UserError

SHAPE = (16, 16, 3)


def cfg(**kw):
  base = dict(name='identity', mask='random', observed=0.5, factor=2,
              ops='blur,downsample', coils='synthetic:4', cs_block=64)
  base.update(kw)
  return ml_collections.ConfigDict(base)


def rand(shape, seed):
  return jax.random.uniform(jax.random.key(seed), shape, jnp.float32)


ALL = [
    dict(name='identity'),
    dict(name='mask'), dict(name='mask', mask='text'),
    dict(name='mask', mask='block'),
    dict(name='downsample', factor=2), dict(name='downsample', factor=4,
                                            sr_kernel='bicubic'),
    dict(name='blur'), dict(name='blur', blur='motion', boundary='reflect'),
    dict(name='blur', blur='box', blur_size=3, boundary='zero'),
    dict(name='cs_gaussian'), dict(name='cs_conv', ratio=3.0),
    dict(name='mri'), dict(name='mri', mri_mask='equispaced'),
    dict(name='mri_multicoil'),
    dict(name='compose'), dict(name='compose', ops='blur,mask'),
]


@pytest.mark.parametrize('kw', ALL, ids=lambda kw: '-'.join(
    str(v) for v in kw.values()))
def test_adjoint_identity(kw):
  op = operators.make_operator(cfg(**kw), SHAPE)
  aux = op.make_aux(jax.random.key(3), 0)
  x = rand(SHAPE, 1) - 0.5
  y = jax.random.normal(jax.random.key(2), op.measurement_shape)
  ax = op.forward(x, aux)
  assert ax.shape == op.measurement_shape
  lhs = float(np.vdot(np.asarray(ax, np.float64), np.asarray(y, np.float64)))
  rhs = float(np.vdot(np.asarray(x, np.float64),
                      np.asarray(op.adjoint(y, aux), np.float64)))
  assert abs(lhs - rhs) <= 1e-4 * (abs(lhs) + 1.0)
  assert float(jnp.linalg.norm(ax)) > 0  # not trivially zero


@pytest.mark.parametrize('boundary,mode', [('circular', 'wrap'),
                                           ('reflect', 'reflect'),
                                           ('zero', 'constant')])
@pytest.mark.parametrize('kind', ['gaussian', 'motion'])
def test_blur_matches_scipy(boundary, mode, kind):
  c = cfg(name='blur', blur=kind, boundary=boundary, blur_size=7,
          motion_angle=20.0)
  op = operators.make_operator(c, SHAPE)
  x = np.asarray(rand(SHAPE, 4), np.float64)
  k = operators.blur_kernel(c)
  assert np.any(k != k[::-1, ::-1]) or kind == 'gaussian'
  ref = np.stack([scipy.ndimage.convolve(x[..., i], k, mode=mode)
                  for i in range(3)], -1)
  np.testing.assert_allclose(op.forward(jnp.asarray(x, jnp.float32), {}), ref,
                             atol=1e-5)


def test_kernel_file(tmp_path):
  k = np.zeros((4, 6))
  k[1, 1:5] = 1
  np.save(tmp_path / 'k.npy', k)
  c = cfg(name='blur', blur=str(tmp_path / 'k.npy'))
  kern = operators.blur_kernel(c)
  assert kern.shape == (5, 7) and abs(kern.sum() - 1) < 1e-12


def test_bicubic_matches_pil_interior():
  from PIL import Image
  x = np.asarray(rand((48, 48, 1), 5), np.float32)[..., 0]
  for f in (2, 3, 4):
    ref = np.asarray(Image.fromarray(x, 'F').resize((48 // f, 48 // f),
                                                    Image.BICUBIC))
    m = operators.bicubic_matrix(48, f)
    out = m @ x.astype(np.float64) @ m.T
    np.testing.assert_allclose(out[2:-2, 2:-2], ref[2:-2, 2:-2], atol=1e-5)


@pytest.mark.parametrize('kernel', ['lanczos2', 'bicubic'])
@pytest.mark.parametrize('factor', [2, 3, 4, 8])
def test_downsample_factors_keep_constants(kernel, factor):
  shape = (24 * factor // np.gcd(24, factor), 24 * factor // np.gcd(24, factor),
           1)
  op = operators.make_operator(cfg(name='downsample', factor=factor,
                                   sr_kernel=kernel), shape)
  y = op.forward(jnp.full(shape, 0.3), {})
  assert y.shape == (shape[0] // factor, shape[1] // factor, 1)
  np.testing.assert_allclose(y, 0.3, atol=1e-6)


def test_downsample_bad_factor():
  with pytest.raises(UserError, match='not divisible'):
    operators.make_operator(cfg(name='downsample', factor=3), SHAPE)


def test_cs_gaussian_matches_numpy():
  c = cfg(name='cs_gaussian', cs_block=64, ratio=4.0, cs_seed=7)
  shape = (8, 10, 1)  # n = 80: two blocks, the second zero-padded
  op = operators.make_operator(c, shape)
  x = np.asarray(rand(shape, 6), np.float64)
  rng = np.random.default_rng(7)
  perm = rng.permutation(80)
  g = rng.standard_normal((16, 64)) / 4.0
  v = np.concatenate([x.reshape(-1)[perm], np.zeros(48)]).reshape(2, 64)
  np.testing.assert_allclose(op.forward(jnp.asarray(x, jnp.float32), {}),
                             (v @ g.T).reshape(-1), atol=1e-5)


def test_cs_conv_matches_direct_circular_convolution():
  c = cfg(name='cs_conv', ratio=2.0, cs_seed=1)
  shape = (6, 8, 2)
  op = operators.make_operator(c, shape)
  x = np.asarray(rand(shape, 7), np.float64)
  rng = np.random.default_rng(1)
  h = rng.standard_normal((6, 8)) / np.sqrt(48)
  keep = np.sort(rng.choice(96, 48, replace=False))
  full = np.zeros(shape)
  for i in range(6):
    for j in range(8):
      for a in range(6):
        for b in range(8):
          full[i, j] += h[a, b] * x[(i - a) % 6, (j - b) % 8]
  np.testing.assert_allclose(op.forward(jnp.asarray(x, jnp.float32), {}),
                             full.reshape(-1)[keep], atol=1e-5)


@pytest.mark.parametrize('kind', ['random', 'equispaced', 'points'])
def test_mri_masks(kind):
  m = operators.mri_mask((32, 64), kind, 4.0, 0.08,
                         np.random.default_rng(0))
  assert m.shape == (32, 64) and m[0, 0]  # DC sampled
  assert abs(m.mean() - 0.25) < 0.05
  if kind != 'points':
    assert np.all(m == m[:1])  # whole phase-encode lines


def test_mri_matches_numpy_fft():
  c = cfg(name='mri', mri_mask='equispaced', accel=2.0)
  op = operators.make_operator(c, (16, 16, 1))
  x = np.asarray(rand((16, 16, 1), 8), np.float64)
  m = operators.mri_mask((16, 16), 'equispaced', 2.0, 0.08,
                         np.random.default_rng(0))
  k = np.fft.fft2(x[..., 0], norm='ortho') * m
  y = np.asarray(op.forward(jnp.asarray(x, jnp.float32), {}))
  np.testing.assert_allclose(y[:, :, 0, 0] + 1j * y[:, :, 0, 1], k, atol=1e-5)


def test_multicoil_full_sampling_inverts_with_adjoint():
  s = operators.synthetic_coils((16, 16), 4)
  np.testing.assert_allclose(np.sum(np.abs(s) ** 2, -1), 1.0, atol=1e-12)
  op = operators.make_operator(cfg(name='mri_multicoil', mri_mask='points',
                                   accel=1.0), (16, 16, 1))
  x = rand((16, 16, 1), 9)
  np.testing.assert_allclose(op.adjoint(op.forward(x, {}), {}), x, atol=1e-5)
  xs = np.asarray(x, np.float64)[..., 0, None] * s
  k = np.fft.fft2(xs, axes=(0, 1), norm='ortho')
  y = np.asarray(op.forward(x, {}))[:, :, 0]
  np.testing.assert_allclose(y[..., 0] + 1j * y[..., 1], k, atol=1e-5)


def test_mask_kinds_and_weight(tmp_path):
  from PIL import Image
  text = operators.text_mask((64, 64))
  assert 0.5 < text.mean() < 0.99
  m = np.ones((20, 20), np.uint8) * 255
  m[5:9, :] = 0
  Image.fromarray(m).save(tmp_path / 'm.png')
  op = operators.make_operator(cfg(name='mask', mask=str(tmp_path / 'm.png')),
                               (16, 16, 3))
  aux = op.make_aux(jax.random.key(0), 0)
  assert int(aux["mask"].sum()) == 16 * 16 - 4 * 16  # centre crop 20 -> 16
  assert op.weight(aux).shape == (16, 16, 1)
  op_all = operators.make_operator(cfg(name='mask', normalize='all'), SHAPE)
  assert op_all.weight is None


def test_random_mask_vmap_equals_loop():
  op = operators.make_operator(cfg(name='mask'), SHAPE)
  keys = jax.random.split(jax.random.key(0), 3)
  xs = jnp.stack([rand(SHAPE, i) for i in range(3)])
  auxs = jax.vmap(op.make_aux, in_axes=(0, None))(keys, 0)
  batched = jax.jit(jax.vmap(op.forward))(xs, auxs)
  for i in range(3):
    np.testing.assert_array_equal(
        batched[i], op.forward(xs[i], op.make_aux(keys[i], 0)))


def test_compose_equals_sequence():
  c = cfg(name='compose', ops='blur,downsample', factor=2)
  op = operators.make_operator(c, SHAPE)
  x = rand(SHAPE, 3)
  b = operators.make_operator(cfg(name='blur'), SHAPE)
  d = operators.make_operator(cfg(name='downsample', factor=2), SHAPE)
  np.testing.assert_allclose(op.forward(x, op.make_aux(jax.random.key(0), 0)),
                             d.forward(b.forward(x, {}), {}), atol=1e-6)
  assert operators.scale_factor(c) == 2
  assert operators.image_shape_for(c, (8, 8, 3)) == SHAPE


def test_unknown_names_list_choices():
  with pytest.raises(UserError, match='cs_gaussian'):
    operators.make_operator(cfg(name='nope'), SHAPE)
  with pytest.raises(UserError, match='poisson'):
    noise.add_noise(jax.random.key(0), jnp.zeros(3), cfg(noise='nope'))


def test_least_squares_inverts_full_mri():
  op = operators.make_operator(cfg(name='mri', mri_mask='points', accel=1.0),
                               (8, 8, 1))
  x = rand((8, 8, 1), 2)
  out = operators.least_squares(op, op.forward(x, {}), {}, damping=0.0)
  np.testing.assert_allclose(out, x, atol=1e-4)


# ---------------------------------------------------------------------- noise
def test_noise_models_statistics_and_seed():
  y = jnp.full((200, 200, 1), 0.4)
  key = jax.random.key(5)
  g = noise.add_noise(key, y, cfg(noise='gaussian', sigma=0.05, clip=False))
  assert abs(float(jnp.std(g)) - 0.05) < 0.002
  p = noise.add_noise(key, y, cfg(noise='poisson', peak=20.0), clip=False)
  assert abs(float(jnp.mean(p)) - 0.4) < 0.01
  assert abs(float(jnp.var(p)) - 0.4 / 20) < 0.002  # var = x / peak
  np.testing.assert_allclose(np.asarray(p) * 20, np.round(np.asarray(p) * 20),
                             atol=1e-4)  # counts
  s = noise.add_noise(key, y, cfg(noise='salt_pepper', amount=0.2))
  hit = np.asarray(s != 0.4)
  assert abs(hit.mean() - 0.2) < 0.01
  assert abs(float(jnp.mean(s[hit])) - 0.5) < 0.02
  assert np.array_equal(noise.add_noise(key, y, cfg(noise='none')), y)
  for kind in ('gaussian', 'poisson', 'salt_pepper'):
    c = cfg(noise=kind, sigma=0.1)
    a = noise.add_noise(jax.random.key(1), y, c)
    assert np.array_equal(a, noise.add_noise(jax.random.key(1), y, c))
    assert not np.array_equal(a, noise.add_noise(jax.random.key(2), y, c))


def test_measure_does_not_clip_kspace():
  op = operators.make_operator(cfg(name='mri'), (8, 8, 1))
  y = operators.measure(jax.random.key(0), jnp.ones((8, 8, 1)), op, {},
                        cfg(noise='gaussian', sigma=0.01))
  assert float(jnp.max(y)) > 1.5  # DC of ones is 8 with the ortho FFT
