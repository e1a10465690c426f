"""Figure 6: activation maps of a deep decoder fitted to the MRI phantom.

  python -m experiments.fig6_activations.run \
    --config=experiments/fig6_activations/config.py:cpu --workdir=runs/fig6_cpu

Image: the authors' phantom256.png (experiments.shared_images) when present, else scikit-image's
Shepp-Logan phantom (`shepp_logan`, shipped in its wheel). Reference: d=5,
k=64, 10000 steps, lr .0025, jitter .001 decaying every 500 -> 52.22 dB.
cpu: 128x128, 2000 steps.
"""

from configs import common
from experiments import shared_images



def get_config(arg=None):
  a = common.parse_arg(arg)
  c = common.base_config(a.preset)
  c.data.images = shared_images('phantom256.png') or 'shepp_logan'
  c.data.channels = 'gray'
  c.operator.name, c.operator.noise.name = 'identity', 'none'
  c.model.k, c.model.depth = 64, 5
  c.optim.lr = 0.0025
  c.fit.jitter_std, c.fit.jitter_decay_every = 0.001, 500
  c.channels_shown = 8
  if a.preset == 'full':
    c.data.size, c.fit.steps = 256, 10000
  elif a.preset == 'cpu':
    c.data.size, c.fit.steps, c.fit.log_every = 128, 2000, 250
  else:
    c.data.size, c.fit.steps, c.fit.log_every = 32, 10, 5
    c.model.k, c.model.depth = 16, 3
  return c
