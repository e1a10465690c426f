"""Deep Image Prior inpainting (y = x * mask), nearest upsampling.

DIP's recipe: 3000-11000 steps, nearest upsampling (REFERENCE.md section 4);
here 50% random pixels observed by default (operator.mask.observed), no
rollback.

  python -m dd_jax.main --config=configs/dip_inpaint.py --workdir=runs/dip_ip
  python -m dd_jax.main --config=configs/dip_inpaint.py:cpu --workdir=runs/dip_ip_cpu
Args: preset, observed (fraction kept).
"""

from configs import common
from configs import dip_common


def get_config(arg=None):
  a = common.parse_arg(arg, observed=0.5)
  c = dip_common.dip_config(a.preset)
  c.operator.name = 'mask'
  c.operator.noise.name = 'none'
  c.operator.mask.kind = 'random'
  c.operator.mask.observed = a.observed
  c.model.upsample = 'nearest'
  c.fit.rollback_db = 0.0
  c.fit.steps = {'full': 5000, 'cpu': 1000, 'test': 20}[a.preset]
  return c
