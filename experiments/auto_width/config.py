"""Automatic width (model.k = 0): fit the rule k(sigma), validate it.

  python -m experiments.auto_width.run \
    --config=experiments/auto_width/config.py:cpu --workdir=runs/auto_width_cpu

For each image and noise sigma the deep decoder is fitted at every width of
`widths` (the recipe's schedule: configs/denoise.py:best without its
ensemble); the best width per (image, sigma) is the peak of a parabola
through log k vs PSNR at the grid's best three. On the `fit_images` the
power law log k* = log K_REF - SLOPE log(sigma / 25) + log(side / 256) is
fitted by least squares (models/width.py holds the constants the cpu preset
gave). On the `validate_images` the table gives PSNR at the default width
(k = 64 at 256x256, scaled as the rule scales it), at the rule's width from
the measurement's estimated sigma (a fit of its own when off the grid) and
at the grid's best width (an oracle).

grid_from=<an earlier run's workdir> reads its grid instead of fitting it,
then refits the rule and re-runs the validation with models/width.py as it
is now (the widths off the grid are fitted).

Presets: cpu (128x128, widths 16-64, sigmas 15, 25, 50; about 30 min
on 2 cores), full (256x256, widths 32-128), test (32x32, 2 widths, 5 steps).
"""

from configs import denoise

FIT_IMAGES = 'chelsea,coins,rocket'
VALIDATE_IMAGES = 'astronaut,coffee,camera,moon,brick'
# size, widths, sigmas (1/255), steps
SETTINGS = {
    'full': (256, (32, 48, 64, 96, 128), (15, 25, 50, 75), 1000),
    'cpu': (128, (16, 24, 32, 48, 64), (15, 25, 50), 1000),
    'test': (32, (8, 16), (25, 50), 5),
}


def get_config(arg=None):
  preset = (arg or 'cpu').split(',')[0]
  c = denoise.get_config(f'{preset},best=true,ensemble=1')
  size, widths, sigmas, steps = SETTINGS[preset]
  c.preset = preset
  c.data.size = size
  c.fit_images = 'camera' if preset == 'test' else FIT_IMAGES
  c.validate_images = 'coins' if preset == 'test' else VALIDATE_IMAGES
  c.widths = ','.join(map(str, widths))
  c.sigmas = ','.join(map(str, sigmas))
  c.grid_from = ''  # an earlier run's workdir: reuse its grid (no grid fits)
  c.fit.steps = steps
  c.fit.log_every = steps
  return c
