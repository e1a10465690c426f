"""Deep Image Prior denoising (sigma = 25/255), the paper's DD-vs-DIP baseline.

DIP's recipe (REFERENCE.md section 4): skip net 5 x 128 channels, Adam lr .01,
3000 steps, jitter 1/30 each step, EMA of outputs (.99; <name>_ema.png is the
result DIP reports), rollback on a 5 dB PSNR drop.

  python -m dd_jax.main --config=configs/dip_denoise.py --workdir=runs/dip_dn
  python -m dd_jax.main --config=configs/dip_denoise.py:cpu --workdir=runs/dip_dn_cpu
  python -m dd_jax.main --config=configs/dip_denoise.py:test --workdir=/tmp/dip_t
Args: preset (full/cpu/test), sigma (in 1/255 units).
"""

from configs import common
from configs import dip_common


def get_config(arg=None):
  a = common.parse_arg(arg, sigma=25.0)
  c = dip_common.dip_config(a.preset)
  c.operator.name = 'identity'
  c.operator.noise.sigma = a.sigma / 255
  return c
