"""Deep decoder: parameter counts, layer equations vs numpy float64, the
fused layer vs the plain path in every variant it serves, transforms."""

import functools

from absl.testing import absltest
from absl.testing import parameterized
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from dd_jax.models import layers
from dd_jax import models


def make_spec(k=8, depth=4, hw=(32, 32), c=3, **kw):
  cfg = ml_collections.ConfigDict(dict(k=k, depth=depth, **kw))
  return models.make_model(cfg, (*hw, c))


def init_params(model, key):
  """The 'params' collection of `model` (Flax init on a zero input)."""
  return model.init(key, jnp.zeros(model.input_shape))['params']


def fwd(model, params, z):
  return model.apply({'params': params}, z)


def hidden_layers(params):
  return [params[f'layer_{i}'] for i in range(len(params) - 1)]


def np_bilinear2(x):
  """Independent float64 bilinear x2 (half-pixel centres, edge clamp)."""
  def along(a, axis):
    a = np.moveaxis(a, axis, 0)
    n = a.shape[0]
    out = np.empty((2 * n,) + a.shape[1:])
    for o in range(2 * n):
      src = (o + 0.5) / 2 - 0.5           # align_corners=False source coord
      src = max(src, 0.0)
      i0 = int(np.floor(src))
      i1 = min(i0 + 1, n - 1)
      t = src - i0
      out[o] = (1 - t) * a[i0] + t * a[i1]
    return np.moveaxis(out, 0, axis)
  return along(along(x, 0), 1)


def np_decoder(params, z, upsample=True):
  """The layer equations of REFERENCE.md section 1 in numpy float64."""
  x = np.asarray(z, np.float64)
  hidden = hidden_layers(params)
  for i, layer in enumerate(hidden):
    x = x @ np.asarray(layer['w'], np.float64)
    if upsample and i != len(hidden) - 1:
      x = np_bilinear2(x)
    x = np.maximum(x, 0)
    mean = x.mean(axis=(0, 1))
    var = ((x - mean) ** 2).mean(axis=(0, 1))
    x = (x - mean) / np.sqrt(var + 1e-5) * np.asarray(layer['gamma']) + \
        np.asarray(layer['beta'])
  x = x @ np.asarray(params['out']['w'], np.float64)
  return 1 / (1 + np.exp(-x))


def random_affine(params, key):
  """Non-trivial gamma/beta so the test exercises them."""
  for i, layer in enumerate(hidden_layers(params)):
    k1, k2 = jax.random.split(jax.random.fold_in(key, i))
    layer['gamma'] = jax.random.uniform(k1, layer['gamma'].shape, minval=0.5,
                                        maxval=1.5)
    layer['beta'] = 0.1 * jax.random.normal(k2, layer['beta'].shape)
  return params


class NumParamsTest(parameterized.TestCase):

  @parameterized.parameters(
      (6, 64, 3, 25_536), (6, 128, 3, 100_224), (6, 32, 1, 6_560),
      (6, 256, 4, 397_312), (5, 64, 3, 21_312), (4, 64, 3, 17_088))
  def test_paper_counts(self, d, k, c, expected):
    spec = make_spec(k=k, depth=d, hw=(512, 512), c=c)
    self.assertEqual(spec.num_params(), expected)
    self.assertEqual(spec.num_params(), d * k * k + 2 * d * k + c * k)
    variables = spec.init(jax.random.key(0), jnp.zeros(spec.input_shape))
    self.assertEqual(models.param_count(variables), expected)
    self.assertEqual(sorted(variables['params']),
                     [f'layer_{i}' for i in range(d)] + ['out'])

  def test_per_layer_channels(self):
    spec = make_spec(channels=(4, 8, 6, 5), hw=(16, 16), c=1)
    self.assertEqual(spec.depth, 3)
    self.assertEqual(spec.num_params(),
                     4 * 8 + 16 + 8 * 6 + 12 + 6 * 5 + 10 + 5)
    x = fwd(spec, init_params(spec, jax.random.key(0)),
            spec.init_input(jax.random.key(1)))
    self.assertEqual(x.shape, (16, 16, 1))


class ForwardTest(parameterized.TestCase):

  @parameterized.parameters(True, False)
  def test_matches_numpy_float64(self, fused):
    spec = make_spec(k=8, depth=4, hw=(32, 24), fused=fused)
    self.assertEqual(spec.input_shape, (4, 3, 8))
    params = random_affine(init_params(spec, jax.random.key(0)),
                           jax.random.key(5))
    z = spec.init_input(jax.random.key(1))
    got = fwd(spec, params, z)
    np.testing.assert_allclose(got, np_decoder(params, z), atol=1e-5)

  def test_no_upsampling_matches_numpy(self):
    spec = make_spec(k=8, depth=3, hw=(8, 8), upsample='none')
    self.assertEqual(spec.input_shape, (8, 8, 8))
    params = random_affine(init_params(spec, jax.random.key(0)),
                           jax.random.key(5))
    z = spec.init_input(jax.random.key(1))
    np.testing.assert_allclose(fwd(spec, params, z),
                               np_decoder(params, z, upsample=False),
                               atol=1e-5)

  def test_init_distribution(self):
    spec = make_spec(k=64, depth=2, hw=(8, 8))
    params = init_params(spec, jax.random.key(0))
    w = np.asarray(params['layer_0']['w'])
    self.assertLessEqual(np.abs(w).max(), 1 / 8)
    self.assertGreater(np.abs(w).max(), 0.9 / 8)
    np.testing.assert_array_equal(params['layer_0']['gamma'], 1.0)
    np.testing.assert_array_equal(params['layer_0']['beta'], 0.0)
    z = np.asarray(spec.init_input(jax.random.key(1)))
    self.assertGreaterEqual(z.min(), 0.0)
    self.assertLess(z.max(), 0.1)

  def test_fused_gradients_equal_autodiff(self):
    spec_f = make_spec(k=8, depth=4, hw=(32, 32))
    spec_p = make_spec(k=8, depth=4, hw=(32, 32), fused=False)
    params = random_affine(init_params(spec_f, jax.random.key(0)),
                           jax.random.key(3))
    z = spec_f.init_input(jax.random.key(1))
    y = jax.random.uniform(jax.random.key(2), (32, 32, 3))
    loss = lambda p, s: jnp.mean((fwd(s, p, z) - y) ** 2)
    g_f = jax.grad(loss)(params, spec_f)
    g_p = jax.grad(loss)(params, spec_p)
    for a, b in zip(jax.tree.leaves(g_f), jax.tree.leaves(g_p)):
      np.testing.assert_allclose(a, b, rtol=2e-4, atol=1e-7)

  def test_norm_is_per_image_under_vmap(self):
    spec = make_spec(k=8, depth=3, hw=(16, 16))
    keys = jax.random.split(jax.random.key(0), 3)
    params = jax.vmap(lambda k: init_params(spec, k))(keys)
    zs = jax.vmap(lambda k: spec.init_input(k))(keys)
    batched = jax.vmap(lambda p, z: fwd(spec, p, z))(params, zs)
    for i in range(3):
      p_i = jax.tree.map(lambda a: a[i], params)
      np.testing.assert_allclose(batched[i], fwd(spec, p_i, zs[i]),
                                 atol=1e-6)

  def test_jit_equals_eager(self):
    spec = make_spec(k=8, depth=3, hw=(16, 16))
    params = init_params(spec, jax.random.key(0))
    z = spec.init_input(jax.random.key(1))
    with jax.disable_jit():
      eager = fwd(spec, params, z)
    jitted = jax.jit(spec.apply)({'params': params}, z)
    np.testing.assert_allclose(eager, jitted, atol=1e-5)

  def test_size_not_multiple_raises(self):
    with self.assertRaisesRegex(ValueError, 'not a multiple'):
      make_spec(depth=4, hw=(30, 32))


# Every setting the fused layer serves (uses_fused_layer): upsampling kinds
# with a fixed x2 stencil and resizers, widths, exact sizes, factors, gamma
# inits, input kinds, output channels. (name, make_spec kwargs).
FUSED_VARIANTS = [
    ('bilinear', dict()),
    ('nearest_x2_stencil', dict(upsample='nearest')),
    ('convex_x2_stencil', dict(upsample='convex')),
    ('linear_resizer', dict(upsample='linear')),
    ('bicubic_resizer', dict(upsample='bicubic')),
    ('gaussian_resizer', dict(upsample='gaussian', gaussian_sigma=0.7)),
    ('no_upsampling', dict(upsample='none', hw=(8, 8), depth=3)),
    ('channels_list', dict(channels=(4, 8, 6, 5), hw=(16, 16))),
    ('to_size_bilinear', dict(upsample_to_size=True, hw=(22, 18))),
    ('to_size_bicubic', dict(upsample='bicubic', upsample_to_size=True,
                             hw=(21, 19))),
    ('to_size_nearest', dict(upsample='nearest', upsample_to_size=True,
                             hw=(22, 18))),
    ('factor3', dict(factor=3, depth=3, hw=(27, 18))),
    ('factor3_to_size', dict(factor=3, depth=3, upsample_to_size=True,
                             hw=(20, 25))),
    ('gamma_uniform', dict(gamma_init='uniform')),
    ('input_gaussian', dict(input_kind='gaussian', input_scale=1.0)),
    ('input_meshgrid', dict(input_kind='meshgrid')),
    ('input_image', dict(input_kind='image')),
    ('gray', dict(c=1, k=6, depth=3)),
    ('rgba', dict(c=4, depth=5, hw=(32, 48))),
]


class FusedPathTest(parameterized.TestCase):
  """The hand-written-VJP path equals the plain path (fused=False)."""

  @parameterized.named_parameters(*FUSED_VARIANTS)
  def test_fused_equals_plain(self, kw):
    fused = make_spec(**kw)
    plain = make_spec(fused=False, **kw)
    self.assertTrue(fused.uses_fused_layer)
    self.assertFalse(plain.uses_fused_layer)
    c = 4 if kw.get('c') == 4 else kw.get('c', 3)
    y = jax.random.uniform(jax.random.key(2), (*fused.output_hw, c))
    params = random_affine(init_params(fused, jax.random.key(0)),
                           jax.random.key(3))
    z = fused.init_input(jax.random.key(1), y)
    loss = lambda p, m, z: jnp.mean((fwd(m, p, z) - y) ** 2)

    @functools.partial(jax.jit, static_argnums=0)
    def outputs(m, params, z):  # One compilation per model.
      feats = m.apply({'params': params}, z, method=models.DeepDecoder.features)
      return (fwd(m, params, z), feats,
              jax.grad(loss, argnums=(0, 2))(params, m, z))

    (out_f, feats_f, (g_f, gz_f)), (out_p, feats_p, (g_p, gz_p)) = (
        outputs(m, params, z) for m in (fused, plain))
    # 3e-5: the fused layer's one-pass variance E[r^2] - mean^2 (float32).
    np.testing.assert_allclose(out_f, out_p, atol=3e-5)
    self.assertLen(feats_f, fused.depth)
    # input_kind='image' (B0 ~ 0.7, small variance): the one-pass variance
    # cancels and normalized features differ by ~2e-4 (outputs by < 3e-5).
    tol = 5e-4 if kw.get('input_kind') == 'image' else 1e-4
    for a, b in zip(feats_f, feats_p):
      np.testing.assert_allclose(a, b, atol=tol)
    self.assertEqual(jax.tree.structure(g_f), jax.tree.structure(g_p))
    for a, b in zip(jax.tree.leaves(g_f) + [gz_f],
                    jax.tree.leaves(g_p) + [gz_p]):
      scale = float(np.abs(b).max())
      np.testing.assert_allclose(a, b, atol=1e-5 * max(scale, 1.0),
                                 rtol=1e-4)


class LayerTest(absltest.TestCase):

  def test_hidden_layer_matches_reference(self):
    from dd_jax.models import upsample
    x = jax.random.normal(jax.random.key(0), (6, 5, 4))
    w = jax.random.normal(jax.random.key(1), (4, 7))
    g = jax.random.uniform(jax.random.key(2), (7,))
    b = jax.random.normal(jax.random.key(3), (7,))
    for up in (upsample.bilinear2, None):
      np.testing.assert_allclose(
          layers.hidden_layer(x, w, g, b, up),
          layers.hidden_layer_reference(x, w, g, b, up), atol=2e-5)

  def test_bilinear_matches_numpy(self):
    from dd_jax.models import upsample
    x = np.random.default_rng(0).normal(size=(5, 7, 3))
    np.testing.assert_allclose(upsample.bilinear2(jnp.asarray(x)),
                               np_bilinear2(x), atol=1e-5)


if __name__ == '__main__':
  absltest.main()
