"""Deep decoder ablation variants: parameter counts, upsamplers against
independent numpy references, permutation equivariance without upsampling,
vmap == loop and jit == eager."""

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest
import skimage.transform

from dd_jax import models
from dd_jax.models import layers
from dd_jax.models import upsample
from dd_jax.errors import UserError


def model_cfg(**kw):
  c = ml_collections.ConfigDict(dict(name='deep_decoder', k=8, depth=3,
                                     channels=()))
  c.update(kw)
  return c


def init_params(model, key):
  """The 'params' collection of `model` (Flax init on a zero input)."""
  return model.init(key, jnp.zeros(model.input_shape))['params']


def fwd(model, params, z):
  return model.apply({'params': params}, z)


def leaf_count(spec):
  shapes = jax.eval_shape(lambda k: init_params(spec, k), jax.random.key(0))
  return sum(int(np.prod(s.shape)) for s in jax.tree.leaves(shapes))


# ------------------------------------------------------------ parameter counts
@pytest.mark.parametrize('d,k,p,c,expected', [
    (6, 64, 1, 3, 25_536), (6, 128, 1, 3, 100_224), (6, 32, 1, 1, 6_560),
    (6, 256, 1, 4, 397_312), (5, 64, 1, 3, 21_312), (4, 64, 1, 3, 17_088),
    (6, 22, 3, 3, 26_466)])
def test_param_count_reference(d, k, p, c, expected):
  spec = models.make_model(model_cfg(k=k, depth=d, conv_size=p), (512, 512, c))
  assert spec.num_params() == expected
  assert leaf_count(spec) == expected


VARIANTS = {
    'p3': (dict(conv_size=3), lambda d, k, c: d * 9 * k * k + 2 * d * k + c * k),
    'p5': (dict(conv_size=5), lambda d, k, c: d * 25 * k * k + 2 * d * k + c * k),
    'no_affine': (dict(affine=False), lambda d, k, c: d * k * k + c * k),
    'no_norm': (dict(norm=False), lambda d, k, c: d * k * k + c * k),
    'transposed_dw': (dict(upsample='transposed'),
                      lambda d, k, c: d * k * k + 2 * d * k + c * k +
                      (d - 1) * 16 * k),
    'transposed_full': (dict(upsample='transposed',
                             transposed_depthwise=False),
                        lambda d, k, c: d * k * k + 2 * d * k + c * k +
                        (d - 1) * 16 * k * k),
    'transposed_f3_old_order': (
        dict(upsample='transposed', factor=3, upsample_first=False),
        lambda d, k, c: d * k * k + 2 * d * k + c * k + (d - 1) * 36 * k),
}
for _kind in ('none', 'nearest', 'bilinear', 'linear', 'convex', 'bicubic',
              'gaussian'):
  VARIANTS[_kind] = (dict(upsample=_kind),
                     lambda d, k, c: d * k * k + 2 * d * k + c * k)


@pytest.mark.parametrize('name', sorted(VARIANTS))
def test_param_count_variants(name):
  kw, formula = VARIANTS[name]
  d, k, c = 4, 12, 3
  spec = models.make_model(model_cfg(k=k, depth=d, **kw), (54, 54, c) if
                           kw.get('factor') == 3 else (64, 64, c))
  assert spec.num_params() == formula(d, k, c)
  assert leaf_count(spec) == formula(d, k, c)


def test_p3_weights_layout():
  params = init_params(models.make_model(
      model_cfg(conv_size=3), (16, 16, 3)), jax.random.key(0))
  assert params['layer_0']['w'].shape == (3, 3, 8, 8)
  params = init_params(models.make_model(
      model_cfg(), (16, 16, 3)), jax.random.key(0))
  assert params['layer_0']['w'].shape == (8, 8)


# ----------------------------------------------------- upsamplers vs numpy
def _img(h=5, w=7, c=2, seed=0):
  return np.random.default_rng(seed).random((h, w, c)).astype(np.float32)


@pytest.mark.parametrize('out_hw', [(10, 14), (15, 21), (13, 8), (7, 11)])
def test_bilinear_matches_skimage(out_hw):
  x = _img()
  ref = skimage.transform.resize(x.astype(np.float64), (*out_hw, 2), order=1,
                                 mode='edge', anti_aliasing=False)
  got = upsample.resize(jnp.asarray(x), out_hw, 'bilinear')
  np.testing.assert_allclose(got, ref, atol=1e-6)


def test_bilinear2_stencil_matches_skimage():
  x = _img(8, 6)
  ref = skimage.transform.rescale(x.astype(np.float64), 2, order=1,
                                  mode='edge', anti_aliasing=False,
                                  channel_axis=2)
  np.testing.assert_allclose(upsample.bilinear2(jnp.asarray(x)), ref,
                             atol=1e-6)


def _paper_1d(v, right):
  """(x0, (1-a) x0 + a x1, x1, ...) with the last neighbour clamped."""
  out = []
  for i in range(len(v)):
    nxt = v[min(i + 1, len(v) - 1)]
    out += [v[i], (1 - right) * v[i] + right * nxt]
  return np.array(out)


@pytest.mark.parametrize('kind,right', [('convex', 0.25), ('linear', 0.5)])
def test_paper_upsamplers(kind, right):
  x = _img().astype(np.float64)
  rows = np.stack([_paper_1d(x[:, j, c], right) for j in range(7)
                   for c in range(2)], -1).reshape(10, 7, 2)
  ref = np.stack([_paper_1d(rows[i, :, c], right) for i in range(10)
                  for c in range(2)], -1).reshape(14, 10, 2).transpose(1, 0, 2)
  got = upsample.get_upsampler(kind)(jnp.asarray(x, jnp.float32))
  np.testing.assert_allclose(got, ref, atol=1e-6)


@pytest.mark.parametrize('factor', [2, 3])
def test_nearest(factor):
  x = _img()
  ref = np.repeat(np.repeat(x, factor, 0), factor, 1)
  got = upsample.resize(jnp.asarray(x), (5 * factor, 7 * factor), 'nearest')
  np.testing.assert_array_equal(got, ref)
  got = upsample.resize_1d(jnp.asarray(x), 0, 5 * factor, 'nearest')
  np.testing.assert_array_equal(got, np.repeat(x, factor, 0))


def _kernel_resize_1d(v, n_out, kernel, taps):
  """Half-pixel centres, indices clamped, weights from `kernel(distance)`."""
  n = len(v)
  out = np.zeros(n_out)
  for o in range(n_out):
    s = (o + 0.5) * n / n_out - 0.5
    i0 = int(np.floor(s))
    idx = [i0 + t for t in taps]
    w = np.array([kernel(i - s) for i in idx])
    out[o] = sum(wi * v[min(max(i, 0), n - 1)] for wi, i in zip(w, idx))
  return out


def _keys_cubic(t, a=-0.75):  # PyTorch's bicubic kernel.
  t = abs(t)
  if t <= 1:
    return (a + 2) * t ** 3 - (a + 3) * t ** 2 + 1
  return a * t ** 3 - 5 * a * t ** 2 + 8 * a * t - 4 * a if t < 2 else 0.0


@pytest.mark.parametrize('n_out', [10, 13])
def test_bicubic_and_gaussian_1d(n_out):
  v = np.random.default_rng(1).random(5)
  got = upsample.resize_1d(jnp.asarray(v[:, None], jnp.float32), 0, n_out,
                           'bicubic')[:, 0]
  ref = _kernel_resize_1d(v, n_out, _keys_cubic, (-1, 0, 1, 2))
  np.testing.assert_allclose(got, ref, atol=1e-6)
  sigma = 0.7
  g = lambda t: np.exp(-0.5 * (t / sigma) ** 2)
  ref = _kernel_resize_1d(v, n_out, g, (-1, 0, 1, 2))
  ref /= _kernel_resize_1d(np.ones(5), n_out, g, (-1, 0, 1, 2))
  got = upsample.resize_1d(jnp.asarray(v[:, None], jnp.float32), 0, n_out,
                           'gaussian', sigma)[:, 0]
  np.testing.assert_allclose(got, ref, atol=1e-6)


def test_transposed_starts_bilinear_in_the_interior():
  x = jnp.asarray(_img(6, 6, 3))
  w = np.outer(*(2 * [upsample.bilinear_kernel_1d(2)]))
  w = jnp.asarray(np.repeat(w[..., None], 3, 2), jnp.float32)
  got = upsample.transposed_up(x, w, 2, depthwise=True)
  assert got.shape == (12, 12, 3)
  ref = upsample.bilinear2(x)
  np.testing.assert_allclose(got[1:-1, 1:-1], ref[1:-1, 1:-1], atol=1e-6)
  full = jnp.asarray(np.asarray(w)[:, :, 0, None, None] * np.eye(3))
  np.testing.assert_allclose(upsample.transposed_up(x, full, 2, False), got,
                             atol=1e-6)


@pytest.mark.parametrize('factor', [2, 3])
@pytest.mark.parametrize('depthwise', [True, False])
def test_transposed_phase_form_matches_lax_conv(factor, depthwise):
  x = jnp.asarray(_img(5, 4, 3))
  k = 2 * factor
  shape = (k, k, 3) if depthwise else (k, k, 3, 2)
  w = jnp.asarray(np.random.default_rng(2).normal(size=shape), jnp.float32)
  got = upsample.transposed_up(x, w, factor, depthwise)
  ref = upsample.transposed_up_lax(x, w, factor, depthwise)
  assert got.shape == (5 * factor, 4 * factor, shape[-1])
  np.testing.assert_allclose(got, ref, atol=1e-5)


# ------------------------------------------------------------- model checks
def test_none_upsampling_is_permutation_equivariant():
  """Paper 6.2: permuting the input pixels permutes the output pixels."""
  spec = models.make_model(model_cfg(upsample='none'), (8, 8, 3))
  params = init_params(spec, jax.random.key(0))
  z = spec.init_input(jax.random.key(1))
  perm = np.random.default_rng(0).permutation(64)
  zp = z.reshape(64, -1)[perm].reshape(z.shape)
  out = fwd(spec, params, z).reshape(64, 3)
  out_p = fwd(spec, params, zp).reshape(64, 3)
  np.testing.assert_allclose(out_p, out[perm], atol=1e-5)
  # With upsampling the same permutation is not a symmetry.
  spec = models.make_model(model_cfg(upsample='bilinear'), (8, 8, 3))
  z = spec.init_input(jax.random.key(1))
  perm = np.random.default_rng(0).permutation(4)
  zp = z.reshape(4, -1)[perm].reshape(z.shape)
  assert not np.allclose(fwd(spec, params, zp),
                         fwd(spec, params, z), atol=1e-3)


@pytest.mark.parametrize('kind', ['bilinear', 'bicubic', 'convex'])
def test_exact_sizes_reach_any_image(kind):
  spec = models.make_model(model_cfg(upsample=kind, upsample_to_size=True,
                                     depth=4), (37, 45, 3))
  assert spec.sizes[-1] == (37, 45) and spec.sizes[0] == (5, 6)
  out = fwd(spec, init_params(spec, jax.random.key(0)),
            spec.init_input(jax.random.key(1)))
  assert out.shape == (37, 45, 3)
  with pytest.raises(UserError, match='upsample_to_size'):
    models.make_model(model_cfg(upsample=kind, depth=4), (37, 45, 3))


def test_fused_layer_is_used_by_default_and_matches_plain_path():
  spec = models.make_model(model_cfg(upsample_to_size=True), (22, 18, 3))
  assert spec.uses_fused_layer
  assert models.make_model(model_cfg(), (16, 16, 3)).uses_fused_layer
  assert models.make_model(model_cfg(conv_size=3), (16, 16, 3)).uses_fused_layer
  for kw in (dict(activation='elu'),
             dict(norm_before_act=True), dict(upsample='transposed'),
             dict(affine=False)):
    assert not models.make_model(model_cfg(**kw), (16, 16, 3)).uses_fused_layer
  plain = models.make_model(model_cfg(upsample_to_size=True, fused=False),
                            (22, 18, 3))
  params = init_params(spec, jax.random.key(0))
  z = spec.init_input(jax.random.key(1))
  loss = lambda p, s: jnp.sum(fwd(s, p, z) ** 2)
  np.testing.assert_allclose(fwd(spec, params, z),
                             fwd(plain, params, z), atol=1e-5)
  g1, g2 = (jax.grad(loss)(params, s) for s in (spec, plain))
  for a, b in zip(jax.tree.leaves(g1), jax.tree.leaves(g2)):
    np.testing.assert_allclose(a, b, atol=1e-4, rtol=1e-3)


def _np_pxp_decoder(params, z, depth):
  """float64 p x p deep decoder: reflection-padded conv -> bilinear x2 (not
  in the last layer) -> relu -> norm; 1x1 output conv + sigmoid."""
  x = np.float64(z)
  for i in range(depth):
    w = np.float64(params[f'layer_{i}']['w'])
    p = w.shape[0]
    r = (p - 1) // 2
    xp = np.pad(x, ((r, r), (r, r), (0, 0)), mode='reflect')
    h, wd = x.shape[:2]
    x = sum(np.einsum('hwc,cd->hwd', xp[a:a + h, b:b + wd], w[a, b])
            for a in range(p) for b in range(p))
    if i < depth - 1:
      x = skimage.transform.resize(x, (2 * h, 2 * wd, x.shape[2]), order=1,
                                   mode='edge', anti_aliasing=False)
    x = np.maximum(x, 0.0)
    x = ((x - x.mean((0, 1))) / np.sqrt(x.var((0, 1)) + 1e-5) *
         np.float64(params[f'layer_{i}']['gamma']) +
         np.float64(params[f'layer_{i}']['beta']))
  return 1 / (1 + np.exp(-x @ np.float64(params['out']['w'])))


def _plain_pxp_decoder(params, z, depth):
  """The same in JAX with im2col convs and autodiff (the old path)."""
  x = z
  for i in range(depth):
    layer = params[f'layer_{i}']
    x = layers.im2col_conv(x, layer['w'])
    if i < depth - 1:
      x = upsample.bilinear2(x)
    x = layers.channel_norm(jax.nn.relu(x), layer['gamma'],
                                   layer['beta'])
  return jax.nn.sigmoid(layers.conv1x1(x, params['out']['w']))


def test_pxp_decoder_matches_numpy_and_plain_gradients():
  """The fused 3x3 path (Winograd convs, norm folded into the next conv,
  hand-written VJPs) == float64 numpy forward and autodiff of the plain
  im2col network (p = 5 runs the same code; layers_test.py covers its
  conv and layer)."""
  spec = models.make_model(model_cfg(k=4, conv_size=3), (16, 16, 3))
  assert spec.uses_fused_layer
  params = jax.tree.map(
      lambda a: a + 0.1 * jax.random.normal(jax.random.key(3), a.shape),
      init_params(spec, jax.random.key(0)))   # gamma, beta away from 1, 0.
  z = spec.init_input(jax.random.key(1))
  y = jax.random.uniform(jax.random.key(2), (16, 16, 3))

  def grad_of(apply):
    return jax.jit(jax.value_and_grad(
        lambda q: (jnp.mean((apply(q) - y) ** 2), apply(q)), has_aux=True))

  (_, out), g1 = grad_of(lambda q: fwd(spec, q, z))(params)
  (_, ref), g2 = grad_of(lambda q: _plain_pxp_decoder(q, z, 3))(params)
  np.testing.assert_allclose(out, _np_pxp_decoder(params, z, 3), atol=1e-5)
  np.testing.assert_allclose(out, ref, atol=1e-5)
  for a, b in zip(jax.tree.leaves(g1), jax.tree.leaves(g2)):
    np.testing.assert_allclose(a, b, atol=1e-5 * float(np.abs(b).max()) +
                               1e-9, rtol=1e-3)


def test_activations_and_inputs():
  for name, fn in [('relu6', lambda v: np.clip(v, 0, 6)),
                   ('leaky_relu', lambda v: np.where(v > 0, v, 0.1 * v)),
                   ('elu', lambda v: np.where(v > 0, v, np.expm1(v))),
                   ('sigmoid', lambda v: 1 / (1 + np.exp(-v))),
                   ('swish', lambda v: v / (1 + np.exp(-v)))]:
    v = np.linspace(-8, 8, 33)
    np.testing.assert_allclose(models.get_activation(name, 0.1)(v), fn(v),
                               atol=1e-6)
  spec = models.make_model(model_cfg(input_kind='meshgrid'), (16, 16, 3))
  z = np.asarray(spec.init_input(jax.random.key(0)))
  np.testing.assert_allclose(z[0, :, 0], np.linspace(0, 1, 4), atol=1e-6)
  np.testing.assert_allclose(z[:, 0, 1], np.linspace(0, 1, 4), atol=1e-6)
  assert z[..., 2:].min() >= 0 and z[..., 2:].max() < 0.1
  spec = models.make_model(model_cfg(input_kind='image'), (16, 16, 3))
  y = np.full((16, 16, 3), 0.7, np.float32)
  z = np.asarray(spec.init_input(jax.random.key(0), jnp.asarray(y)))
  np.testing.assert_allclose(z[..., :3], 0.7, atol=1e-5)
  spec = models.make_model(model_cfg(gamma_init='uniform'), (16, 16, 3))
  gamma = init_params(spec, jax.random.key(0))['layer_0']['gamma']
  assert 0 <= gamma.min() and gamma.max() < 1 and gamma.std() > 0.05


@pytest.mark.parametrize('bad', [dict(activation='gelu2'), dict(upsample='x'),
                                 dict(conv_size=2), dict(input_kind='x'),
                                 dict(name='unet')])
def test_unknown_names_raise_user_error(bad):
  with pytest.raises(UserError):
    models.make_model(model_cfg(**bad), (16, 16, 3))


# ------------------------------------------------ vmap == loop, jit == eager
TRANSFORM_VARIANTS = [
    dict(conv_size=3),
    dict(upsample='transposed', activation='leaky_relu'),
    dict(upsample='bicubic', upsample_to_size=True, norm_before_act=True),
    dict(upsample='none', activation='swish', affine=False),
    dict(upsample='gaussian', upsample_first=False, input_kind='gaussian'),
    dict(upsample='convex', factor=3, upsample_to_size=True, norm=False),
]


@pytest.mark.parametrize('kw', TRANSFORM_VARIANTS,
                         ids=lambda kw: ','.join(f'{k}={v}' for k, v in kw.items()))
def test_vmap_jit_equal_eager_loop(kw):
  spec = models.make_model(model_cfg(k=4, **kw), (12, 14, 3) if
                           kw.get('upsample_to_size') else (16, 16, 3))
  keys = jax.random.split(jax.random.key(0), 2)
  params = jax.vmap(lambda k: init_params(spec, k))(keys)
  zs = jax.vmap(spec.init_input)(jax.random.split(jax.random.key(1), 2))
  loss = lambda p, z: jnp.mean(fwd(spec, p, z) ** 2)
  batched = jax.jit(jax.vmap(jax.value_and_grad(loss)))(params, zs)
  for i in range(2):
    p_i = jax.tree.map(lambda a: a[i], params)
    eager = jax.value_and_grad(loss)(p_i, zs[i])
    for a, b in zip(jax.tree.leaves(eager),
                    jax.tree.leaves(jax.tree.map(lambda a: a[i], batched))):
      np.testing.assert_allclose(a, b, atol=1e-5, rtol=1e-4)
