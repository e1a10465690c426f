"""Appendix B: sensitivity to weight perturbations (Fig. 7) and weight
histograms with Gaussian fits (Fig. 8) of a fitted deep decoder.

  python -m experiments.appendix_b.run \
    --config=experiments/appendix_b/config.py:cpu --workdir=runs/appb_cpu

The paper fits Barbara (not shipped offline) with d=6, k=128; we fit the
astronaut (config.data.images) the same way. cpu: 128x128, d=5, k=64.
"""

from configs import common


def get_config(arg=None):
  a = common.parse_arg(arg)
  c = common.base_config(a.preset)
  c.data.images = 'astronaut'
  c.operator.name, c.operator.noise.name = 'identity', 'none'
  c.snr_db = (0.0, 5.0, 10.0, 15.0, 20.0, 25.0, 30.0)
  c.draws = 4
  if a.preset == 'full':
    c.data.size, c.fit.steps = 512, 5000
  elif a.preset == 'cpu':
    c.data.size, c.model.k, c.model.depth = 128, 64, 5
    c.fit.steps, c.fit.log_every = 1500, 250
  else:
    c.data.size, c.fit.steps, c.fit.log_every = 32, 10, 5
    c.model.depth = 3
  return c
