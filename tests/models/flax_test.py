"""The models as Flax modules: a user module wrapping DeepDecoder fits through
the engine, and summary_table lists every layer."""

import flax.linen as nn
import jax
import numpy as np

from configs import denoise
from dd_jax import models
from dd_jax.fitting import engine


class GainDecoder(nn.Module):
  """A deep decoder times a learned per-image brightness gain."""
  decoder: models.DeepDecoder

  @nn.compact
  def __call__(self, z):
    gain = self.param('gain', nn.initializers.ones, ())
    return gain * self.decoder(z)

  def init_input(self, key, y=None):
    return self.decoder.init_input(key, y)

  def describe(self) -> str:
    return 'gain x ' + self.decoder.describe()


def _decoder(hw=(16, 16), k=8, depth=3):
  return models.DeepDecoder(channels=(k,) * (depth + 1), out_channels=3,
                            output_hw=hw)


def test_gain_decoder_fits_through_the_engine():
  model = GainDecoder(_decoder())
  assert isinstance(model, models.ImageModel)
  # A dim target: the gain has to move below 1 (the decoder's sigmoid alone
  # also could, but the gain is the shortest way).
  ys = 0.3 * jax.random.uniform(jax.random.key(7), (2, 16, 16, 3))
  c = denoise.get_config('test')
  c.optim.lr = 0.02
  c.fit.steps, c.fit.log_every, c.fit.best_iterate = 60, 20, False
  result = engine.fit_images(c, measurements=np.asarray(ys), model=model,
                             verbose=False)
  assert result.groups[0]['num_params'] == model.decoder.num_params() + 1
  for rec in result:
    losses = np.asarray(rec['losses'])
    assert losses[-1] < 0.5 * losses[0]
    assert set(rec['params']) == {'gain', 'decoder'}
    gain = np.asarray(rec['params']['gain'])
    assert gain.shape == () and abs(float(gain) - 1.0) > 1e-3


def test_summary_table_lists_every_layer():
  decoder = _decoder(hw=(32, 32), depth=4)
  z = decoder.init_input(jax.random.key(0))
  table = models.summary_table(decoder, z)
  for name in [f'layer_{i}' for i in range(4)] + ['out']:
    assert name in table
  assert f'{decoder.num_params():,}' in table
  dip = models.Dip(out_channels=3, output_hw=(16, 16), channels_down=(4,) * 2,
                   channels_up=(4,) * 2, channels_skip=(2,) * 2)
  table = models.summary_table(dip, dip.init_input(jax.random.key(0)))
  for name in ('scale_0', 'scale_1', 'head', 'down1', 'cat_norm'):
    assert name in table
  assert f'{dip.num_params():,}' in table
  wrapped = GainDecoder(decoder)
  variables = wrapped.init(jax.random.key(0), z)
  assert models.param_count(variables) == decoder.num_params() + 1
