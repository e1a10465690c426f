"""Denoising (paper sec. 4.1): Gaussian noise sigma = 25/255, clipped.

Full size (paper: 512x512 astronaut, k=128, d=6, 1900 steps; ~20 min here):
  python -m dd_jax.main --config=configs/denoise.py --workdir=runs/denoise
Quick on a CPU (256x256, k=64, d=5, 1000 steps; ~2 min):
  python -m dd_jax.main --config=configs/denoise.py:cpu --workdir=runs/dn_cpu
Args: preset (full/cpu/test), sigma (in 1/255 units), k.

The reference's 29.2 dB (REFERENCE.md section 3) is for the paper supplement's
astronaut.png, a different photograph from scikit-image's built-in astronaut
(mean |difference| 0.30); to compare, add
  --config.data.images=../shared/images/astronaut.png
"""

from configs import common


def get_config(arg=None):
  a = common.parse_arg(arg, sigma=25.0, k=0)
  c = common.base_config(a.preset)
  c.operator.name = 'identity'
  c.operator.sigma = a.sigma / 255
  if a.k:
    c.model.k = a.k
  return c
