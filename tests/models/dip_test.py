"""Deep Image Prior's skip network and the DIP fitting features (EMA of
outputs, rollback) of the shared fit engine."""

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax

from configs import dip_common
from configs import dip_denoise
from configs import dip_inpaint
from configs import dip_superres
from dd_jax.models import dip
from dd_jax.models import layers
from dd_jax.models import upsample
from dd_jax import fitting as fit_lib
from dd_jax import models


def dip_params_closed_form(c_in=32, c=128, s=4, scales=5, c_out=3):
  """Counted by hand from REFERENCE.md section 4's layer list (equal widths)."""
  total = 0
  for i in range(scales):
    cin = c_in if i == 0 else c
    total += cin * s + s + 2 * s                 # 1x1 skip conv + norm
    total += 9 * cin * c + c + 2 * c             # stride-2 3x3 + norm
    total += 9 * c * c + c + 2 * c               # 3x3 + norm
    total += 2 * (s + c)                         # norm of the concatenation
    total += 9 * (s + c) * c + c + 2 * c         # 3x3 up conv + norm
    total += c * c + c + 2 * c                   # 1x1 up conv + norm
  return total + c * c_out + c_out               # 1x1 head


def test_dip_param_count_default():
  spec = models.make_model(ml_collections.ConfigDict({'name': 'dip'}),
                           (512, 512, 3))
  assert isinstance(spec, dip.Dip)
  assert spec.num_params() == dip_params_closed_form() == 2_217_831
  shapes = jax.eval_shape(spec.init, jax.random.key(0),
                          jnp.zeros(spec.input_shape))
  assert models.param_count(shapes) == 2_217_831
  assert sorted(shapes['params']) == ['head'] + [f'scale_{i}' for i in
                                                 range(5)]
  assert sorted(shapes['params']['scale_0']) == [
      'cat_norm', 'down1', 'down2', 'skip', 'up', 'up1x1']
  assert shapes['params']['scale_1']['down1']['w'].shape == (3, 3, 128, 128)


def test_dip_forward_shape_any_size_and_jit():
  cfg = dip_denoise.get_config('test')
  spec = models.make_model(cfg.model, (21, 27, 3))   # Odd sizes: no crop.
  assert spec.num_params() == dip_params_closed_form(32, 8, 2, 3)
  dip_common._widths(cfg, 8, 2, 2)                   # Keeps the jit small.
  spec = models.make_model(cfg.model, (21, 27, 3))
  z = spec.init_input(jax.random.key(1))
  variables = spec.init(jax.random.key(0), z)
  assert z.shape == (21, 27, 32) and 0 <= z.min() and z.max() < 0.1
  out = spec.apply(variables, z)
  assert out.shape == (21, 27, 3)
  assert 0 < out.min() and out.max() < 1
  np.testing.assert_allclose(jax.jit(spec.apply)(variables, z), out,
                             atol=1e-5)
  w = np.asarray(variables['params']['scale_0']['down1']['w'])
  b = np.asarray(variables['params']['scale_0']['down1']['b'])
  bound = 1 / np.sqrt(9 * 32)               # U(+-1/sqrt(fan_in)), biases too.
  assert np.abs(w).max() <= bound and np.abs(w).max() > 0.9 * bound
  assert np.abs(b).max() <= bound and b.std() > 0.1 * bound


def _dip_reference(params, z, spec):
  """The skip net written plainly (REFERENCE.md section 4): im2col convs,
  channel_norm, then LeakyReLU, the concatenation normalized explicitly;
  autodiff everywhere."""
  act = lambda v: jax.nn.leaky_relu(v, spec.leaky_slope)
  conv = lambda x, layer, stride=1: layers.im2col_conv(
      x, layer['w'], stride) + layer['b']
  norm = lambda x, n: layers.channel_norm(x, n['gamma'], n['beta'])
  block = lambda x, layer, stride=1: act(norm(conv(x, layer, stride), layer))

  def scale(x, i):
    ps = params[f'scale_{i}']
    deeper = block(block(x, ps['down1'], 2), ps['down2'])
    if i < spec.scales - 1:
      deeper = scale(deeper, i + 1)
    deeper = upsample.resize(deeper, x.shape[:2], spec.upsample)
    deeper = jnp.concatenate([block(x, ps['skip']), deeper], axis=-1)
    return block(block(norm(deeper, ps['cat_norm']), ps['up']), ps['up1x1'])

  return jax.nn.sigmoid(conv(scale(z, 0), params['head']))


def test_dip_matches_plain_reference_and_its_gradients():
  """Winograd convs, fused norm + activation and the folded concatenation
  norm compute the plain network: outputs and every gradient. 16x22: one
  exact x2 upsampling (8x11 -> 16x22) and one not (4x6 -> 8x11)."""
  hw = (16, 22)
  spec = dip.Dip(out_channels=3, output_hw=hw, input_channels=6,
                 channels_down=(8,) * 2, channels_up=(8,) * 2,
                 channels_skip=(2,) * 2)
  z = spec.init_input(jax.random.key(1))
  params = spec.init(jax.random.key(0), z)['params']
  y = jax.random.uniform(jax.random.key(2), (*hw, 3))

  def loss_of(apply):
    return jax.jit(jax.value_and_grad(
        lambda p: (jnp.mean((apply(p) - y) ** 2), apply(p)), has_aux=True))

  (l1, out), g1 = loss_of(lambda p: spec.apply({'params': p}, z))(params)
  (l2, ref), g2 = loss_of(lambda p: _dip_reference(p, z, spec))(params)
  np.testing.assert_allclose(out, ref, atol=1e-5)
  np.testing.assert_allclose(l1, l2, rtol=1e-5)
  top = max(float(np.abs(g).max()) for g in jax.tree.leaves(g2))
  for a, b in zip(jax.tree.leaves(g1), jax.tree.leaves(g2)):
    # Biases right before a normalization have zero gradient (rounding).
    np.testing.assert_allclose(a, b, atol=1e-4 * top)


def test_dip_configs_build():
  for mod, shape in ((dip_denoise, (64, 64, 3)), (dip_superres, (64, 64, 3)),
                     (dip_inpaint, (64, 64, 3))):
    for preset in ('full', 'cpu', 'test'):
      cfg = mod.get_config(preset)
      spec = models.make_model(cfg.model, shape if preset == 'test' else
                               (128, 128, 3))
      assert spec.num_params() > 0
      assert fit_lib.fit_options(cfg.fit).ema_weight == 0.99
  assert fit_lib.fit_options(dip_denoise.get_config().fit).rollback_db == 5.0


# ------------------------------------------------------------ fit features
def _pixel_model():
  """apply(params, z) = params['x']: the output is the parameter image."""
  return lambda p, z: p['x'] + 0 * z


def test_ema_follows_the_recurrence():
  opts = fit_lib.FitOptions(ema=True, ema_weight=0.9, best_iterate=False)
  tx = optax.sgd(0.3)
  step = fit_lib.make_step(_pixel_model(), lambda x, aux: x,
                           lambda a, b: jnp.mean((a - b) ** 2), tx, opts)
  y = jnp.asarray(np.random.default_rng(0).random((4, 4, 1)), jnp.float32)
  params = {'x': jnp.zeros((4, 4, 1))}
  state = fit_lib.FitState(params, tx.init(params), params, jnp.inf, 0, True,
                           jax.random.key(0), {'ema': jnp.zeros((4, 4, 1))})
  outputs = []
  for _ in range(5):
    outputs.append(np.asarray(state.params['x']))
    state, _ = step(state, {'z': jnp.zeros((4, 4, 1)), 'y': y, 'aux': {}})
  ema = outputs[0]
  for o in outputs[1:]:
    ema = 0.9 * ema + 0.1 * o
  np.testing.assert_allclose(state.extras['ema'], ema, atol=1e-6)


def test_rollback_restores_saved_weights_on_a_psnr_drop():
  opts = fit_lib.FitOptions(rollback_db=5.0)
  y = jnp.full((4, 4, 1), 0.5)
  saved = {'x': jnp.full((4, 4, 1), 0.49)}     # psnr 40 dB
  cur = {'x': jnp.full((4, 4, 1), 0.6)}        # psnr 20 dB: a 20 dB drop
  new = {'x': jnp.full((4, 4, 1), 0.7)}
  extras = {'saved_params': saved, 'saved_psnr': jnp.asarray(40.0)}
  state = fit_lib.FitState(cur, {'m': 1.0}, cur, 1.0, 3, True,
                           jax.random.key(0), extras)
  after = fit_lib.FitState(new, {'m': 2.0}, cur, 1.0, 4, True,
                           jax.random.key(0), extras)
  out = fit_lib.apply_dip_features(opts, state, after, cur['x'], cur['x'], y)
  np.testing.assert_allclose(out.params['x'], 0.49)
  assert float(out.opt_state['m']) == 1.0
  np.testing.assert_allclose(out.extras['saved_psnr'], 40.0)
  # A small drop (40 -> 37.4 dB) keeps the update and saves these weights.
  cur = {'x': jnp.full((4, 4, 1), 0.5135)}
  state = state._replace(params=cur)
  out = fit_lib.apply_dip_features(opts, state, after, cur['x'], cur['x'], y)
  np.testing.assert_allclose(out.params['x'], 0.7)
  np.testing.assert_allclose(out.extras['saved_params']['x'], 0.5135)
  np.testing.assert_allclose(out.extras['saved_psnr'], -10 * np.log10(0.0135 ** 2),
                             rtol=1e-4)


def test_fit_reports_ema_and_batches_like_single_fits():
  """EMA + rollback + jitter in fit(): N images together == one by one."""
  cfg = dip_denoise.get_config('test')
  cfg.fit.steps, cfg.fit.log_every = 4, 2
  model = ml_collections.ConfigDict(dict(name='deep_decoder', k=4, depth=2,
                                         channels=()))
  spec = models.make_model(model, (8, 8, 3))
  ys = jnp.asarray(np.random.default_rng(0).random((2, 8, 8, 3)), jnp.float32)
  keys = jax.random.split(jax.random.key(0), 2)
  kw = dict(optim_cfg=cfg.optim, fit_cfg=cfg.fit, verbose=False)
  both = fit_lib.fit(keys, spec, lambda x, a: x, ys, {}, clean=ys, **kw)
  assert both.ema.shape == (2, 8, 8, 3)
  assert 'psnr_ema' in both.history[-1]
  one = fit_lib.fit(keys[1:], spec, lambda x, a: x, ys[1:], {}, clean=ys[1:],
                    **kw)
  np.testing.assert_allclose(both.ema[1], one.ema[0], atol=1e-5)
  np.testing.assert_allclose(both.restored[1], one.restored[0], atol=1e-5)
