"""The paper's Fig. 5: a 1-D deep decoder, linear vs convex upsampling.

  python -m experiments.upsampling.fig5 \
    --config=experiments/upsampling/fig5_config.py:cpu --workdir=runs/fig5

full and cpu (the same; a 1-D fit takes well under a minute): n=256 samples,
k=6, d=6 (294 parameters), 3000 steps. test (seconds): n=32, k=4, d=3, 10
steps. Field beyond the base config: `n` (signal length); the model is
model.k / model.depth and the budget fit.steps, e.g.
  --config.n=512 --config.model.k=8 --config.fit.steps=1000
"""

from configs import common


def get_config(arg=None):
  a = common.parse_arg(arg)
  c = common.base_config(a.preset)
  c.model.upsample_to_size = True
  c.n, c.model.k, c.model.depth, c.fit.steps = 256, 6, 6, 3000
  if a.preset == 'test':
    c.n, c.model.k, c.model.depth, c.fit.steps = 32, 4, 3, 10
  c.fit.log_every = c.fit.steps
  return c
