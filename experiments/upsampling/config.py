"""Every upsampling kind, on representation and denoising (paper sec. 6.2).

  python -m experiments.upsampling.run \
    --config=experiments/upsampling/config.py:cpu --workdir=runs/upsampling_cpu

full: astronaut, coffee, chelsea at 512x512, k=64, d=6 (25,536 params), 3000
steps, best iterate. cpu (minutes): astronaut 64x64, k=32, d=4, 500 steps.
test (seconds): astronaut 32x32, k=8, d=3, 4 steps, two kinds.
Fields beyond the base config: `sigma` (denoising noise level, [0, 1] scale)
and `kinds` (the upsampling kinds fitted, comma-separated), e.g.
  --config.kinds=bilinear,convex --config.fit.steps=100
The paper's Fig. 5 has its own launcher and config: fig5.py, fig5_config.py.
"""

from configs import common

KINDS = 'none,nearest,bilinear,linear,convex,bicubic,gaussian,transposed'


def get_config(arg=None):
  a = common.parse_arg(arg)
  c = common.base_config(a.preset)
  c.data.images, c.data.size, c.data.channels = ('astronaut,coffee,chelsea',
                                                 512, 'rgb')
  c.model.k, c.model.depth = 64, 6
  c.fit.steps, c.fit.log_every = 3000, 500
  c.sigma = 25 / 255
  c.kinds = KINDS
  if a.preset == 'cpu':
    c.data.images, c.data.size = 'astronaut', 64
    c.model.k, c.model.depth = 32, 4
    c.fit.steps, c.fit.log_every = 500, 250
  elif a.preset == 'test':
    c.data.images, c.data.size = 'astronaut', 32
    c.model.k, c.model.depth = 8, 3
    c.fit.steps, c.fit.log_every = 4, 2
    c.kinds = 'nearest,bilinear'
  return c
