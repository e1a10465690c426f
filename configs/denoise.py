"""Denoising (paper sec. 4.1): Gaussian noise sigma = 25/255, clipped
(operator.noise.sigma, in [0, 1] units; the sigma arg is in 1/255 units).

Full size (paper: 512x512 astronaut, k=128, d=6, 1900 steps; ~20 min here):
  python -m dd_jax.main --config=configs/denoise.py --workdir=runs/denoise
Quick on a CPU (256x256, k=64, d=5, 1000 steps; ~2 min):
  python -m dd_jax.main --config=configs/denoise.py:cpu --workdir=runs/dn_cpu
Args: preset (full/cpu/test), sigma (in 1/255 units), k, fast, best,
ensemble.

fast=true swaps the paper's constant Adam lr 0.01 for a 50-step warm-up to
0.03 and cosine decay to 0.0009, over 1000/1900 of the preset's steps
(benchmarks/README.md: on three 512x512 images it ends 0.6-0.75 dB above the
paper's 1900 steps in 1000, and passes their final PSNR at step 500-600):
  python -m dd_jax.main --config=configs/denoise.py:full,fast=true --workdir=runs/dn_fast

best=true is the recipe of experiments/beyond (its README has the numbers:
paper protocol vs this at the authors' wall time): the fast schedule, an
ensemble of `ensemble` fits of 500 steps each (default 8; fit.ensemble, their mean) and the
automatic width (model.k=0, models/width.py: k from the noise level
estimated from the measurement):
  python -m dd_jax.main --config=configs/denoise.py:cpu,best=true --workdir=runs/dn_best

The reference's 29.2 dB (REFERENCE.md section 3) is for the paper supplement's
astronaut.png, a different photograph from scikit-image's built-in astronaut
(mean |difference| 0.30); to compare, add
  --config.data.images=../shared/images/astronaut.png
"""

from configs import common


def get_config(arg=None):
  a = common.parse_arg(arg, sigma=25.0, k=0, fast=False, best=False,
                       ensemble=8)
  c = common.base_config(a.preset)
  c.operator.name = 'identity'
  c.operator.noise.sigma = a.sigma / 255
  if a.k:
    c.model.k = a.k
  if a.best:  # 500 of the paper's 1900 steps per member
    best_recipe(c, a.ensemble, max(round(c.fit.steps * 500 / 1900), 1),
                k=a.k)
  elif a.fast:
    fast_schedule(c, max(round(c.fit.steps * 1000 / 1900), 1))
  return c


def fast_schedule(c, steps: int):
  """fast=true: warm-up to lr 0.03, cosine decay to 0.0009, `steps` steps."""
  c.optim.schedule, c.optim.lr = 'warmup_cosine', 0.03
  c.fit.steps = int(steps)
  c.optim.warmup_steps = min(50, c.fit.steps // 10)
  c.optim.final_ratio = 0.03
  c.fit.log_every = min(c.fit.log_every, c.fit.steps)


def best_recipe(c, ensemble: int, steps: int, k: int = 0):
  """best=true: the fast schedule, an ensemble of `ensemble` fits and the
  automatic width (k = 0; another k fixes it)."""
  fast_schedule(c, steps)
  c.fit.ensemble = int(ensemble)
  c.model.k = int(k)
