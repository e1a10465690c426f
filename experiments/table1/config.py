"""Table 1 of the paper: denoising (DN, sigma 25), x4 super-resolution (SR) and
inpainting (IP, 50% random pixels): deep decoder vs DIP vs classical baselines.

  python -m experiments.table1.run --config=experiments/table1/config.py:cpu \
    --workdir=runs/table1_cpu
  python -m experiments.table1.run --config=experiments/table1/config.py \
    --workdir=runs/table1            # full: 512x512, paper sizes (GPU/TPU)

Args: preset (full/cpu/test), tasks (e.g. 'dn+sr'), dip (include DIP).
Image list: config.data.images (files, folders or scikit-image names), e.g.
  --config.data.images=/data/kodak
"""

import ml_collections

from configs import common
from experiments import shared_images



def _images(preset):
  have = bool(shared_images())
  if preset == 'test':
    return 'astronaut'  # One shape: one compilation per task and model.
  names = ['astronaut', 'coffee', 'chelsea', 'rocket', 'camera']
  if preset == 'full':
    names += ['immunohistochemistry']
    if have:
      names += [shared_images('sf4_rgb.png'), shared_images('poster_rgb.png')]
  if have:
    names += [shared_images('mri.png')]
  return ','.join(names)


def _dd(preset, task):
  c = common.base_config(preset)
  if preset == 'cpu':
    c.data.size, c.model.k, c.model.depth = 128, 64, 5
  if task == 'dn':
    c.operator.name, c.operator.noise.sigma = 'identity', 25 / 255
    c.fit.steps = {'full': 1900, 'cpu': 1000, 'test': 10}[preset]
  elif task == 'sr':
    c.operator.name, c.operator.noise.name = 'downsample', 'none'
    c.operator.downsample.factor = 4
    c.fit.steps = {'full': 2000, 'cpu': 1000, 'test': 10}[preset]
  else:
    c.operator.name, c.operator.noise.name = 'mask', 'none'
    c.operator.mask.kind, c.operator.mask.observed = 'random', 0.5
    c.model.k = {'full': 320, 'cpu': 96, 'test': 16}[preset]
    c.fit.steps = {'full': 5000, 'cpu': 1500, 'test': 10}[preset]
  c.fit.log_every = {'full': 100, 'cpu': 100, 'test': 5}[preset]
  return c


def _dip(dd, preset, task):
  """DIP's protocol (REFERENCE.md section 4) on the same measurement."""
  c = ml_collections.ConfigDict(dd.to_dict())
  c.model.name = 'dip'
  c.model.upsample = 'nearest' if task == 'ip' else 'bilinear'
  c.model.activation = 'leaky_relu'
  c.model.leaky_slope = 0.2
  width = {'full': 128, 'cpu': 32, 'test': 8}[preset]
  c.model.dip = ml_collections.ConfigDict(dict(
      scales={'full': 5, 'cpu': 4, 'test': 2}[preset],
      channels_down=(), channels_up=(), channels_skip=(),
      input_channels=32))
  c.model.dip.channels_down = (width,) * c.model.dip.scales
  c.model.dip.channels_up = (width,) * c.model.dip.scales
  c.model.dip.channels_skip = (4,) * c.model.dip.scales
  c.fit.best_iterate = False
  c.fit.ema, c.fit.ema_weight = True, 0.99
  c.fit.rollback_db = 5.0 if task == 'dn' else 0.0
  c.fit.jitter_decay_every = 10 ** 9  # Fresh jitter each step, constant std.
  c.fit.jitter_decay = 1.0
  c.fit.jitter_std = {'dn': 1 / 30, 'sr': 0.03, 'ip': 0.03}[task]
  c.fit.steps = {'full': {'dn': 3000, 'sr': 2000, 'ip': 5000},
                 'cpu': {'dn': 1000, 'sr': 1000, 'ip': 1500},
                 'test': {'dn': 10, 'sr': 10, 'ip': 10}}[preset][task]
  return c


def get_config(arg=None):
  a = common.parse_arg(arg, tasks='dn+sr+ip', dip=True)
  c = ml_collections.ConfigDict()
  c.preset = a.preset
  c.seed = 0
  c.tasks = a.tasks
  c.data = common.base_config(a.preset).data
  c.data.images = _images(a.preset)
  c.data.size = {'full': 512, 'cpu': 128, 'test': 32}[a.preset]
  c.dd = ml_collections.ConfigDict({t: _dd(a.preset, t) for t in
                                    ('dn', 'sr', 'ip')})
  c.dip = ml_collections.ConfigDict(
      {t: _dip(c.dd[t], a.preset, t) for t in ('dn', 'sr', 'ip')}
      if a.dip else {})
  c.baselines = ml_collections.ConfigDict(dict(
      dn='bm3d', sr='bicubic,lanczos', ip='biharmonic'))
  c.mesh = ml_collections.ConfigDict(dict(shard=True))
  c.output = common.base_config(a.preset).output
  return c
