"""Denoising (paper sec. 4.1): Gaussian noise sigma = 25/255, clipped
(operator.noise.sigma, in [0, 1] units; the sigma arg is in 1/255 units).

Full size (paper: 512x512 astronaut, k=128, d=6, 1900 steps; ~20 min here):
  python -m dd_jax.main --config=configs/denoise.py --workdir=runs/denoise
Quick on a CPU (256x256, k=64, d=5, 1000 steps; ~2 min):
  python -m dd_jax.main --config=configs/denoise.py:cpu --workdir=runs/dn_cpu
Args: preset (full/cpu/test), sigma (in 1/255 units), k, fast.

fast=true swaps the paper's constant Adam lr 0.01 for a 50-step warm-up to
0.03 and cosine decay to 0.0009, over 1000/1900 of the preset's steps
(benchmarks/README.md: on three 512x512 images it ends 0.6-0.75 dB above the
paper's 1900 steps in 1000, and passes their final PSNR at step 500-600):
  python -m dd_jax.main --config=configs/denoise.py:full,fast=true --workdir=runs/dn_fast

The reference's 29.2 dB (REFERENCE.md section 3) is for the paper supplement's
astronaut.png, a different photograph from scikit-image's built-in astronaut
(mean |difference| 0.30); to compare, add
  --config.data.images=../shared/images/astronaut.png
"""

from configs import common


def get_config(arg=None):
  a = common.parse_arg(arg, sigma=25.0, k=0, fast=False)
  c = common.base_config(a.preset)
  c.operator.name = 'identity'
  c.operator.noise.sigma = a.sigma / 255
  if a.k:
    c.model.k = a.k
  if a.fast:
    c.optim.schedule, c.optim.lr = 'warmup_cosine', 0.03
    c.fit.steps = max(round(c.fit.steps * 1000 / 1900), 1)
    c.optim.warmup_steps = min(50, c.fit.steps // 10)
    c.optim.final_ratio = 0.03
    c.fit.log_every = min(c.fit.log_every, c.fit.steps)
  return c
