"""Denoising under other noise models (operator.noise.name): poisson
(operator.noise.peak photons at 1.0), salt_pepper (fraction
operator.noise.amount), gaussian (sigma; the arg is in 1/255 units).

  python -m dd_jax.main --config=configs/noise.py:cpu,noise=poisson,peak=10 \
    --workdir=runs/poisson
  python -m dd_jax.main --config=configs/noise.py:cpu,noise=salt_pepper \
    --workdir=runs/sp
Salt-and-pepper outliers fit better with an L1 loss (the default here for it).
Stop without a clean image: --config.fit.stop=validation.
Args: preset, noise, peak, amount, sigma, loss ('' = mse, l1 for salt_pepper), k.
"""

from configs import common


def get_config(arg=None):
  a = common.parse_arg(arg, noise='poisson', peak=30.0, amount=0.1,
                       sigma=25.0, loss='', k=0)
  c = common.base_config(a.preset)
  c.operator.name = 'identity'
  c.operator.noise.name = a.noise
  c.operator.noise.peak = a.peak
  c.operator.noise.amount = a.amount
  c.operator.noise.sigma = a.sigma / 255
  c.fit.loss = a.loss or ('l1' if a.noise == 'salt_pepper' else 'mse')
  if a.k:
    c.model.k = a.k
  return c
