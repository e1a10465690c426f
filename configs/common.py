"""Shared config pieces: the `arg` parser and the base config every task extends.

A config file's `get_config(arg)` takes a string such as `"cpu"` or
`"test,k=32"`: comma-separated presets and `key=value` pairs.
"""

import ml_collections

from dd_jax import configurable
from dd_jax import models
from dd_jax.inverse import blur
from dd_jax.inverse import cs
from dd_jax.inverse import inpaint
from dd_jax.inverse import mri
from dd_jax.inverse import noise
from dd_jax.inverse import operators
from dd_jax.inverse import superres

PRESETS = ('full', 'cpu', 'test')


def parse_arg(arg: str | None, **defaults) -> ml_collections.ConfigDict:
  """Parses 'cpu,k=32' into {'preset': 'cpu', 'k': 32, ...defaults}.

  Values are cast to the type of their default (bools accept true/false/1/0).
  A bare word is a preset name; unknown keys and presets are errors.
  """
  out = dict(preset='full', **defaults)
  for item in (arg or '').split(','):
    item = item.strip()
    if not item:
      continue
    if '=' not in item:
      if item not in PRESETS:
        raise ValueError(f'Unknown config preset {item!r}; choose one of '
                         f'{PRESETS} or give key=value.')
      out['preset'] = item
      continue
    key, value = (s.strip() for s in item.split('=', 1))
    if key not in out:
      raise ValueError(f'Unknown config arg {key!r}; known: {sorted(out)}.')
    default = out[key]
    if isinstance(default, bool):
      value = value.lower() in ('1', 'true', 'yes', 'y')
    elif default is not None:
      value = type(default)(value)
    out[key] = value
  return ml_collections.ConfigDict(out)


def base_config(preset: str) -> ml_collections.ConfigDict:
  """Paper defaults (denoising, REFERENCE.md sections 1-2), shrunk by preset."""
  c = ml_collections.ConfigDict()
  c.seed = 0

  # The model's defaults live in DeepDecoder's fields (dd_jax/models/
  # decoder.py documents each); k and depth are shortcuts for channels
  # (k,) * (depth + 1), which channels (d + 1 widths) overrides when set.
  # init_from: a saved init's folder (dd_jax/models/pretrained.py; e.g. the
  # meta-learned <workdir>/init of experiments/learned_init): every fit
  # starts from its weights (and input) instead of random ones.
  c.model = ml_collections.ConfigDict(dict(
      name='deep_decoder', k=128, depth=6, channels=(), init_from=''))
  c.model.update(configurable.section(
      models.DeepDecoder, exclude=('channels', 'out_channels', 'output_hw')))

  # Inverse problem (dd_jax/inverse/): operator.name picks the operator; each
  # family's arguments sit in the section named after it, with the defaults
  # of its builder's signature. Noise: operator.noise (dd_jax/inverse/noise.py).
  c.operator = ml_collections.ConfigDict()
  c.operator.name = 'identity'   # see dd_jax.inverse.operators.OPERATORS
  c.operator.noise = configurable.section(noise.add_noise)
  c.operator.mask = configurable.section(inpaint.mask)
  c.operator.downsample = configurable.section(superres.downsample)
  c.operator.blur = configurable.section(blur.blur)
  c.operator.cs = configurable.section(cs.gaussian)  # cs_gaussian, cs_conv
  c.operator.mri = configurable.section(mri.multi_coil)  # mri, mri_multicoil
  c.operator.compose = configurable.section(operators.compose_ops)

  # optim and fit: the library's defaults and field docs live in
  # fitting.make_optimizer and fitting.FitOptions / stopping.StopOptions.
  from dd_jax import fitting
  c.optim = fitting.optim_section()  # name, lr, schedule, b1, b2, eps, ...
  c.fit = fitting.fit_section()  # steps, log_every, loss, best_iterate, ...

  c.data = ml_collections.ConfigDict()
  c.data.images = 'astronaut'    # files, a folder, or built-in names
  c.data.measurement = ''        # already-corrupted images (data.images unused)
  # The clean image of each measurement, for the metrics only (PSNR / SSIM in
  # metrics.jsonl, the summary, psnr.png; the fit never sees it): files,
  # a folder or built-in names, one per measurement in the same order; not
  # resized (data.size), cropped with its measurement. Or pair by file name,
  # pair='<measurement pattern>:<reference pattern>' ('*' the only wildcard):
  # each file of the data.measurement folder(s) matching the first goes with
  # the file the second names, its '*'s filled alike ('*_real.*:*_mean.*':
  # a_real.JPG with a_mean.JPG), in the folder data.reference (empty: beside
  # it); unpaired files on either side are an error (dd_jax/io/inputs.py).
  c.data.reference = ''
  c.data.pair = ''
  c.data.size = 512              # resize to size x size; 0 keeps the size
  c.data.crop = True             # crop sides to a multiple the model needs
  c.data.channels = 'auto'       # auto | gray | rgb | rgba
  c.data.alpha = 'keep'          # keep (passed through) | fit | drop
  # Complex images (mri, mri_multicoil; needs model.output linear | tanh):
  # fitted as real/imaginary channel pairs, scored on the magnitude, written
  # as magnitude + phase PNGs and a complex .npy. data.images then also takes
  # complex .npy arrays (|x| <= 1); an image file is the magnitude, times
  # exp(i phase) for data.phase = none | smooth (dd_jax/io/images.py).
  c.data.complex = False
  c.data.phase = 'none'

  # The workdir (dd_jax/io/workdir.py): a folder holding a run is refused
  # unless overwrite (the old run is moved aside whole once the new one has
  # validated); one holding other files unless allow_other_files (then none
  # of them is replaced: a clashing output name is refused).
  # An interrupted run (Ctrl-C, SIGTERM, a crash) continues from its last
  # checkpoint (<workdir>/checkpoint/, every checkpoint_every_s seconds and
  # on a stop) with resume=True; a resumed run ends as an uninterrupted one.
  c.output = ml_collections.ConfigDict()
  c.output.overwrite = False
  c.output.allow_other_files = False
  c.output.resume = False
  c.output.checkpoint_every_s = 300.0

  c.mesh = ml_collections.ConfigDict()
  c.mesh.shard = True            # shard images over devices (dd_jax.sharding)

  if preset == 'cpu':
    c.data.size = 256
    c.model.k = 64
    c.model.depth = 5
    c.fit.steps = 1000
    c.fit.log_every = 100
  elif preset == 'test':
    c.data.size = 64
    c.model.k = 16
    c.model.depth = 4
    c.fit.steps = 20
    c.fit.log_every = 10
  return c
