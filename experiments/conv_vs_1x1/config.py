"""p x p convolutions vs 1x1 at equal parameter counts (paper sec. 3.1).

  python -m experiments.conv_vs_1x1.run \
    --config=experiments/conv_vs_1x1/config.py:cpu --workdir=runs/conv_vs_1x1_cpu

full: the reference's compression setting (REFERENCE.md section 3): sf4_rgb
512x512 (../shared/images, else astronaut), d=6, all three (p, k) pairs, 20000
steps, lr .005, jitter .005 decayed every 500 steps.
cpu (minutes): astronaut and coffee at 64x64, d=5, the first pair, 800 steps.
test (seconds): astronaut 32x32, d=3, the first pair, 4 steps.
Fields beyond the base config: `pairs` (how many of the (p, k) pairs to fit,
1 to 3). Override e.g. --config.fit.steps=100 --config.data.images=camera.
"""

from configs import common
from experiments import shared_images


def get_config(arg=None):
  a = common.parse_arg(arg)
  c = common.base_config(a.preset)
  c.data.images = shared_images('sf4_rgb.png') or 'astronaut'
  c.data.size, c.data.channels = 512, 'rgb'
  c.model.depth = 6
  c.optim.lr = 0.005
  c.fit.jitter_std, c.fit.jitter_decay_every = 0.005, 500
  c.fit.steps, c.fit.log_every = 20000, 1000
  c.pairs = 3
  if a.preset == 'cpu':
    c.data.images, c.data.size = 'astronaut,coffee', 64
    c.model.depth, c.optim.lr, c.fit.jitter_std = 5, 0.01, 0.0
    c.fit.steps, c.fit.log_every = 800, 400
    c.pairs = 1
  elif a.preset == 'test':
    c.data.images, c.data.size = 'astronaut', 32
    c.model.depth, c.optim.lr, c.fit.jitter_std = 3, 0.01, 0.0
    c.fit.steps, c.fit.log_every = 4, 2
    c.pairs = 1
  return c
