"""Figure 4: MSE vs step when fitting (a) the noisy image x + eta (MSE to the
clean x), (b) the clean image x and (c) pure noise 0.5 + eta, deep decoder vs
DIP, both with plain Adam (no early stopping, jitter or EMA).

  python -m experiments.fig4_fit_noise.run \
    --config=experiments/fig4_fit_noise/config.py:cpu --workdir=runs/fig4_cpu

full: astronaut 512, DD k=128 d=6, DIP 128 channels 5 scales, 50000 steps
(the paper's horizon). cpu: 128x128 crop, DD k=64 d=5, DIP 32 channels 4
scales, 2000 steps.
"""

import ml_collections

from configs import common


def get_config(arg=None):
  a = common.parse_arg(arg, dip=True)
  c = common.base_config(a.preset)
  c.data.images = 'astronaut'
  c.operator.noise.sigma = 25 / 255
  c.fit.best_iterate = False
  size, steps, log_every, width, scales = {
      'full': (512, 50000, 100, 128, 5), 'cpu': (128, 2000, 20, 32, 4),
      'test': (32, 10, 5, 8, 2)}[a.preset]
  c.data.size, c.fit.steps, c.fit.log_every = size, steps, log_every
  if a.preset == 'cpu':
    c.model.k, c.model.depth = 64, 5
  c.dip = ml_collections.ConfigDict(dict(enabled=a.dip, width=width,
                                         scales=scales))
  return c
