"""Proposition 1 / section 6.1: the fraction of pure-noise energy a deep
decoder fits, as a function of k and of the output size n, against the
k^2 log(n0) / n scaling of the bound.

  python -m experiments.prop1_noise_fraction.run \
    --config=experiments/prop1_noise_fraction/config.py:cpu \
    --workdir=runs/prop1_cpu

Target: 0.5 + eta, eta ~ N(0, sigma^2) per pixel, gray; `draws` noise draws
per (k, n) fitted in one vmapped call.
"""

from configs import common


def get_config(arg=None):
  a = common.parse_arg(arg)
  c = common.base_config(a.preset)
  c.operator.name, c.operator.noise.name = 'identity', 'none'
  c.noise_sigma = 0.1
  c.fit.best_iterate = False
  c.model.depth = 4
  if a.preset == 'full':
    c.ks, c.sides, c.draws = (4, 8, 16, 32, 64, 128), (64, 128, 256, 512), 4
    c.fit.steps = 5000
  elif a.preset == 'cpu':
    c.ks, c.sides, c.draws = (4, 8, 16, 32, 64), (32, 64, 128), 2
    c.fit.steps, c.fit.log_every = 1000, 250
  else:
    c.model.depth = 2
    c.ks, c.sides, c.draws = (2, 4), (8, 16), 2
    c.fit.steps, c.fit.log_every = 10, 5
  return c
