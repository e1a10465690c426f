"""Deep Image Prior's "skip" network and fitting recipe (REFERENCE.md section 4).

`dip_config(preset)` is the base config with model.name='dip' and DIP's
fitting features on: input jitter redrawn every step (constant std), the EMA
of the outputs (weight .99, written as <name>_ema.png and psnr_ema), and the
rollback when the PSNR against the measurement drops by more than 5 dB.
"""

import ml_collections

from configs import common
from dd_jax import configurable
from dd_jax import models


def dip_config(preset: str) -> ml_collections.ConfigDict:
  c = common.base_config(preset)
  c.model.name = 'dip'
  # Dip's defaults live in its fields (dd_jax/models/dip.py); upsample,
  # activation, leaky_slope, input_scale, input_kind are shared with the deep
  # decoder's section, the rest are in model.dip (scales = number of widths).
  dip = configurable.defaults(models.Dip, exclude=('out_channels',
                                                    'output_hw'))
  for name in models.DIP_SHARED:
    c.model[name] = dip.pop(name)
  c.model.dip = ml_collections.ConfigDict(dict(
      scales=len(dip['channels_down']), **dip))

  c.optim.lr = 0.01
  c.fit.best_iterate = False
  c.fit.jitter_std = 1 / 30
  c.fit.jitter_decay = 1.0       # Redrawn every step, constant std.
  c.fit.ema = True
  c.fit.ema_weight = 0.99
  c.fit.rollback_db = 5.0
  c.fit.steps = 3000

  if preset == 'cpu':          # 128x128, 64 channels: minutes on 2 cores.
    c.data.size = 128
    _widths(c, 64, 4, 5)
    c.fit.steps = 1000
  elif preset == 'test':
    c.data.size = 32
    _widths(c, 8, 2, 3)
    c.fit.steps = 20
  return c


def _widths(c, channels, skip, scales):
  c.model.dip.scales = scales
  c.model.dip.channels_down = (channels,) * scales
  c.model.dip.channels_up = (channels,) * scales
  c.model.dip.channels_skip = (skip,) * scales
