"""Super-resolution (paper sec. 4.2): Lanczos-2 antialiased downsampling by 4
(operator.downsample.factor; operator.downsample.kernel lanczos2 | bicubic).

  python -m dd_jax.main --config=configs/superres.py --workdir=runs/sr
  python -m dd_jax.main --config=configs/superres.py:cpu --workdir=runs/sr_cpu
Your own low-resolution image (output is factor x larger, no clean image):
  python -m dd_jax.main --config=configs/superres.py:cpu \
    --config.data.measurement=lowres.png --workdir=runs/sr_real
Args: preset, factor, k.
"""

from configs import common


def get_config(arg=None):
  a = common.parse_arg(arg, factor=4, k=0)
  c = common.base_config(a.preset)
  c.operator.name = 'downsample'
  c.operator.downsample.factor = a.factor
  c.operator.noise.name = 'none'
  c.fit.steps = {'full': 2000, 'cpu': 1000, 'test': 20}[a.preset]
  if a.k:
    c.model.k = a.k
  return c
