"""Deep Image Prior super-resolution (Lanczos-2 downsampling by 4 or 8).

DIP's recipe: x4: 2000 steps, jitter .03; x8: 4000 steps, jitter .05; no
rollback (REFERENCE.md section 4).

  python -m dd_jax.main --config=configs/dip_superres.py --workdir=runs/dip_sr
  python -m dd_jax.main --config=configs/dip_superres.py:cpu --workdir=runs/dip_sr_cpu
Args: preset, factor (4 or 8).
"""

from configs import common
from configs import dip_common


def get_config(arg=None):
  a = common.parse_arg(arg, factor=4)
  c = dip_common.dip_config(a.preset)
  c.operator.name = 'downsample'
  c.operator.downsample.factor = a.factor
  c.operator.noise.name = 'none'
  c.fit.jitter_std = 0.05 if a.factor >= 8 else 0.03
  c.fit.rollback_db = 0.0
  c.fit.steps = {'full': 4000 if a.factor >= 8 else 2000, 'cpu': 1000,
                 'test': 20}[a.preset]
  return c
