"""MRI of a complex image: a 2-channel (real, imaginary) deep decoder output.

The image is synthetic: scikit-image's Shepp-Logan phantom as the magnitude
times a smooth phase (data.phase=smooth, within (-pi, pi)), measured by the
4x undersampled k-space of configs/mri.py (random phase-encode lines, 8% of
the centre kept): single coil, or 8 synthetic coils with coils=8. The model
emits real and imaginary parts through a tanh (model.output: within (-1, 1),
the range of an image with |x| <= 1; 'linear' measured 1.4 dB lower on the
single-coil cpu preset); PSNR and SSIM are of the magnitude, and
summary.json adds the relative complex L2 error and the mean phase error
where |x| > 0.1 max |x|. Outputs per image:
<name>_{clean,restored}_magnitude.png, _phase.png and the complex .npy.

  python -m dd_jax.main --config=configs/mri_complex.py:cpu \
    --workdir=runs/mri_cx
  python -m dd_jax.main --config=configs/mri_complex.py:cpu,coils=8 \
    --workdir=runs/mri_cx8
Your own complex ground truth (.npy [H, W] or [H, W, C], |x| <= 1):
  python -m dd_jax.main --config=configs/mri_complex.py:cpu \
    --config.data.images=gt.npy --config.data.phase=none --config.data.size=0 \
    --workdir=runs/cx_gt
Args: those of configs/mri.py (preset, accel, mask, coils, sigma, k).
"""

from configs import common
from configs import mri


def get_config(arg=None):
  a = common.parse_arg(arg, **mri.ARGS)
  c = mri.config(a)
  c.data.images = 'shepp_logan'
  c.data.complex = True
  c.data.phase = 'smooth'
  c.model.output = 'tanh'
  if a.preset == 'cpu':    # 128x128: a couple of minutes on 2 cores.
    c.data.size = 128
  elif a.preset == 'test':
    c.data.size = 32
    c.model.depth = 3
  return c
