"""Compressive sensing: y = A x + noise, m = n / ratio measurements.

operator.name 'cs_gaussian' (blocked Gaussian matrix, block operator.cs.block)
or 'cs_conv' (subsampled random convolution), both seeded by operator.cs.seed;
Gaussian noise sigma (1/255 units), not clipped (measurements are not images).
Fields: operator.cs.{ratio, block, seed}, operator.noise.{name, sigma}.

  python -m dd_jax.main --config=configs/cs.py:cpu --workdir=runs/cs
  python -m dd_jax.main --config=configs/cs.py:cpu,kind=cs_conv,ratio=8 \
    --workdir=runs/cs_conv
Args: preset, kind (cs_gaussian | cs_conv), ratio (n / m), sigma, k.
"""

from configs import common


def get_config(arg=None):
  a = common.parse_arg(arg, kind='cs_gaussian', ratio=4.0, sigma=0.0, k=0)
  c = common.base_config(a.preset)
  c.operator.name = a.kind
  c.operator.cs.ratio = a.ratio
  c.operator.noise.name = 'gaussian' if a.sigma else 'none'
  c.operator.noise.sigma = a.sigma / 255
  c.data.channels = 'gray'
  c.fit.steps = {'full': 5000, 'cpu': 1500, 'test': 20}[a.preset]
  if a.k:
    c.model.k = a.k
  return c
