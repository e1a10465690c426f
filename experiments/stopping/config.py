"""How close do ground-truth-free stopping rules land to the best PSNR?

  python -m experiments.stopping.run \
    --config=experiments/stopping/config.py:cpu --workdir=runs/stopping_cpu

Images (config.data.images): astronaut, sf4_rgb, mri and poster_rgb of
../shared/images (scikit-image astronaut, camera, coffee, chelsea when
absent). sigmas: comma-separated, in 1/255. merge: comma-separated
results.json files (or the workdirs holding them) of earlier runs, merged into
one table without fitting. cpu: 128x128, k=32, d=5, 400 steps, a check every
10 (results_cpu.json). full: 512x512, k=128, d=6, 1900 steps, a check every
20 (not run here). test: camera 32x32, 30 steps, sigma 25.
"""

from configs import common
from experiments import shared_images

SHARED_NAMES = ('astronaut.png', 'sf4_rgb.png', 'mri.png', 'poster_rgb.png')
BUILTINS = 'astronaut,camera,coffee,chelsea'
# size, k, depth, steps, check every
SETTINGS = {'full': (512, 128, 6, 1900, 20), 'cpu': (128, 32, 5, 400, 10),
            'test': (32, 8, 3, 30, 5)}


def _images(preset):
  if preset == 'test':
    return 'camera'
  shared = [shared_images(n) for n in SHARED_NAMES]
  return ','.join(p for p in shared if p) or BUILTINS


def get_config(arg=None):
  a = common.parse_arg(arg)
  c = common.base_config(a.preset)
  c.preset = a.preset
  c.data.images = _images(a.preset)
  size, k, depth, steps, every = SETTINGS[a.preset]
  c.data.size, c.model.k, c.model.depth = size, k, depth
  c.fit.steps, c.fit.log_every = steps, every
  c.sigmas = '25' if a.preset == 'test' else '15,25,50'
  c.merge = ''
  return c
