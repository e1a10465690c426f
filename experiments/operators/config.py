"""Every operator on a small image set: deep decoder vs classical baselines.

  python -m experiments.operators.run \
    --config=experiments/operators/config.py:cpu --workdir=runs/operators_cpu
  python -m experiments.operators.run \
    --config=experiments/operators/config.py:cpu --config.only=0,3 \
    --workdir=runs/operators_some      # cases 0 and 3 only (see run.CASES)

Images: mri.png and astronaut.png of ../shared/images in gray (scikit-image
camera and astronaut when absent); config.data.images overrides them.
cpu: 64x64, k=32, d=4, 400 steps (results_cpu.json). full: 512x512, k=128,
d=6, 1900 steps (not run here). test: camera 32x32, 10 steps, cases 0 and 2.
"""

from configs import common
from experiments import shared_images

# size, k, depth, steps
SETTINGS = {'full': (512, 128, 6, 1900), 'cpu': (64, 32, 4, 400),
            'test': (32, 8, 3, 10)}


def _images(preset):
  if preset == 'test':
    return 'camera'
  shared = [shared_images(n) for n in ('mri.png', 'astronaut.png')]
  return ','.join(p for p in shared if p) or 'camera,astronaut'


def get_config(arg=None):
  a = common.parse_arg(arg)
  c = common.base_config(a.preset)
  c.preset = a.preset
  c.data.images = _images(a.preset)
  c.data.channels = 'gray'
  size, k, depth, steps = SETTINGS[a.preset]
  c.data.size, c.model.k, c.model.depth = size, k, depth
  c.fit.steps = c.fit.log_every = steps
  c.only = '0,2' if a.preset == 'test' else ''  # comma-separated case indices
  return c
