"""Deblurring: y = k * x + noise (same size; circular boundary by default).

Kernels (operator.blur.kind): gaussian (operator.blur.sigma), box
(operator.blur.size), motion (size pixels at operator.blur.motion_angle
degrees) or a kernel file (image or .npy); operator.blur.boundary circular |
reflect | zero. With factor > 1 the blur is followed by Lanczos-2
downsampling (operator.name=compose, operator.compose.ops=blur,downsample).

  python -m dd_jax.main --config=configs/deblur.py:cpu --workdir=runs/deblur
  python -m dd_jax.main --config=configs/deblur.py:cpu,kernel=motion,size=11 \
    --workdir=runs/deblur_motion
Your own blurred photo and kernel:
  python -m dd_jax.main --config=configs/deblur.py:cpu \
    --config.data.measurement=blurred.png \
    --config.operator.blur.kind=kernel.png \
    --config.operator.blur.boundary=reflect --workdir=runs/deblur_real
Args: preset, kernel, blur_sigma, size, sigma (noise, 1/255), factor, k.
"""

from configs import common


def get_config(arg=None):
  a = common.parse_arg(arg, kernel='gaussian', blur_sigma=1.6, size=9,
                       sigma=2.0, factor=1, k=0)
  c = common.base_config(a.preset)
  c.operator.name = 'blur' if a.factor == 1 else 'compose'
  c.operator.compose.ops = 'blur,downsample'
  c.operator.downsample.factor = a.factor
  c.operator.blur.kind = a.kernel
  c.operator.blur.sigma = a.blur_sigma
  c.operator.blur.size = a.size if a.kernel != 'gaussian' else 0
  c.operator.noise.name = 'gaussian' if a.sigma else 'none'
  c.operator.noise.sigma = a.sigma / 255
  c.fit.steps = {'full': 3000, 'cpu': 1000, 'test': 20}[a.preset]
  if a.k:
    c.model.k = a.k
  return c
