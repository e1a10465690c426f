"""Figure 1: representing (compressing) clean images with a deep decoder at
compression factors ~32 and ~8 vs wavelet thresholding with the same number
of coefficients (the paper's Haar baseline and keep-N bior4.4 in YCbCr).

  python -m experiments.fig1_compression.run \
    --config=experiments/fig1_compression/config.py:cpu --workdir=runs/fig1_cpu

full: 512x512, d=6, k=64 (factor 30.8 on RGB) and k=128 (7.85), 20000 steps,
lr .005, jitter .005 decaying every 500 (the reference protocol).
cpu: 128x128, d=5, k=16 (factor 33.0 on RGB) and k=32 (8.9), 2000 steps.
"""

from configs import common
from experiments import shared_images



def get_config(arg=None):
  a = common.parse_arg(arg)
  c = common.base_config(a.preset)
  names = ['astronaut', 'coffee', 'chelsea', 'rocket', 'camera']
  names += [p for p in map(shared_images, ('sf4_rgb.png', 'mri.png')) if p]
  if a.preset == 'test':
    names = ['astronaut', 'camera']
  c.data.images = ','.join(names)
  c.operator.name, c.operator.noise.name = 'identity', 'none'
  c.optim.lr = 0.005
  c.fit.jitter_std, c.fit.jitter_decay_every = 0.005, 500
  if a.preset == 'full':
    c.data.size, c.model.depth, c.ks = 512, 6, (64, 128)
    c.fit.steps = 20000
  elif a.preset == 'cpu':
    c.data.size, c.model.depth, c.ks = 128, 5, (16, 32)
    c.fit.steps, c.fit.log_every = 2000, 200
  else:
    c.data.size, c.model.depth, c.ks = 32, 3, (4, 8)
    c.fit.steps, c.fit.log_every = 10, 5
  c.wavelets = ('haar_reference', 'haar_keep_n', 'bior4.4_ycbcr')
  return c
