"""MRI: subsampled 2-D Fourier measurements of a real (gray) image.

Single coil ('mri') or multi-coil with coil maps ('mri_multicoil',
operator.mri.coils 'synthetic:J' or a .npy [H, W, J] complex file). k-space
mask operator.mri.mask 'random' or 'equispaced' phase-encode lines (centre
fraction operator.mri.center = .08 always kept), or 'points', acceleration
operator.mri.accel, drawn from operator.mri.seed. Default image: ../shared/images/mri.png if you pass it,
else scikit-image's brain-free 'camera'.

  python -m dd_jax.main --config=configs/mri.py:cpu \
    --config.data.images=../shared/images/mri.png --workdir=runs/mri
  python -m dd_jax.main --config=configs/mri.py:cpu,coils=8 --workdir=runs/mri8
Your own k-space (complex .npy [H, W], unshifted FFT order) and mask:
  python -m dd_jax.main --config=configs/mri.py:cpu \
    --config.data.measurement=kspace.npy --config.operator.mri.mask=mask.png \
    --workdir=runs/mri_real
Args: preset, accel, mask (random | equispaced | points), coils (0: single),
sigma (k-space noise, 1/255 units), k. Complex images: configs/mri_complex.py.
"""

from configs import common

ARGS = dict(accel=4.0, mask='random', coils=0, sigma=0.0, k=0)


def get_config(arg=None):
  return config(common.parse_arg(arg, **ARGS))


def config(a):
  """The config of the parsed args `a` (ARGS and a preset)."""
  c = common.base_config(a.preset)
  c.operator.name = 'mri_multicoil' if a.coils else 'mri'
  c.operator.mri.coils = f'synthetic:{a.coils or 8}'
  c.operator.mri.mask = a.mask
  c.operator.mri.accel = a.accel
  c.operator.noise.name = 'gaussian' if a.sigma else 'none'
  c.operator.noise.sigma = a.sigma / 255
  c.data.images = 'camera'
  c.data.channels = 'gray'
  c.fit.steps = {'full': 5000, 'cpu': 1500, 'test': 20}[a.preset]
  if a.k:
    c.model.k = a.k
  return c
