"""Shared config pieces: the `arg` parser and the base config every task extends.

A config file's `get_config(arg)` takes a string such as `"cpu"` or
`"test,k=32"`: comma-separated presets and `key=value` pairs.
"""

import ml_collections

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

  c.model = ml_collections.ConfigDict()
  c.model.name = 'deep_decoder'
  c.model.k = 128
  c.model.depth = 6
  c.model.channels = ()          # Optional per-layer widths (d + 1 entries).
  c.model.upsample = 'bilinear'
  c.model.upsample_first = True
  c.model.norm_before_act = False
  c.model.input_scale = 0.1
  c.model.fused = True
  # Ablation variants (dd_jax/models.py; defaults = the paper's model).
  c.model.conv_size = 1          # p of the hidden p x p convs (odd)
  c.model.factor = 2             # upsampling factor per layer
  c.model.upsample_to_size = False  # exact per-layer sizes: any H x W
  c.model.activation = 'relu'    # relu, leaky_relu, relu6, elu, sigmoid, swish
  c.model.leaky_slope = 0.2
  c.model.norm = True
  c.model.affine = True          # learned gamma/beta
  c.model.gamma_init = 'ones'    # ones | uniform (U(0, 1))
  c.model.input_kind = 'uniform' # uniform | gaussian | meshgrid | image
  c.model.gaussian_sigma = 0.5   # upsample='gaussian' width (input pixels)
  c.model.transposed_depthwise = True  # upsample='transposed' weights

  c.operator = ml_collections.ConfigDict()
  c.operator.name = 'identity'
  c.operator.noise = 'gaussian'
  c.operator.sigma = 25 / 255
  c.operator.clip = True
  c.operator.factor = 4          # downsample
  c.operator.mask = 'random'     # mask: 'random', 'block' or a file
  c.operator.observed = 0.5
  c.operator.block = 0.25
  # Inverse-problem operators and noise (dd_jax/operators.py, noise.py).
  c.operator.normalize = 'observed'  # mask loss over observed | all pixels
  c.operator.mask_text = 'Deep Decoder'  # mask='text'
  c.operator.sr_kernel = 'lanczos2'  # downsample: lanczos2 | bicubic
  c.operator.blur = 'gaussian'   # gaussian | box | motion | kernel file
  c.operator.blur_sigma = 1.6
  c.operator.blur_size = 0       # 0: 2 ceil(3 sigma) + 1 for gaussian
  c.operator.motion_angle = 30.0
  c.operator.boundary = 'circular'  # blur: circular | reflect | zero
  c.operator.ratio = 4.0         # compressive sensing n / m
  c.operator.cs_block = 1024
  c.operator.cs_seed = 0
  c.operator.mri_mask = 'random'  # random | equispaced | points | file
  c.operator.accel = 4.0
  c.operator.center = 0.08
  c.operator.coils = 'synthetic:8'  # mri_multicoil: synthetic:J | maps.npy
  c.operator.ops = ''            # compose: e.g. 'blur,downsample'
  c.operator.peak = 30.0         # poisson noise
  c.operator.amount = 0.1        # salt_pepper noise

  c.optim = ml_collections.ConfigDict()
  c.optim.name = 'adam'
  c.optim.lr = 0.01
  c.optim.b1 = 0.9
  c.optim.b2 = 0.999
  c.optim.eps = 1e-8
  c.optim.schedule = 'constant'  # constant | step | cosine | warmup_cosine
  c.optim.decay_every = 500      # step schedule: lr * decay_rate^(i // every)
  c.optim.decay_rate = 0.65
  c.optim.warmup_steps = 100
  c.optim.final_ratio = 0.0

  c.fit = ml_collections.ConfigDict()
  c.fit.steps = 1900
  c.fit.log_every = 100
  c.fit.loss = 'mse'
  c.fit.best_iterate = True
  c.fit.best_rel = 0.005
  c.fit.jitter_std = 0.0
  c.fit.jitter_decay_every = 100_000
  c.fit.jitter_decay = 0.7
  c.fit.ema = False              # DIP: EMA of outputs, reported separately
  c.fit.ema_weight = 0.99
  c.fit.rollback_db = 0.0        # DIP: 5.0 (roll back on a PSNR drop)
  c.fit.stop = 'budget'          # budget | discrepancy | validation
  c.fit.stop_sigma = 0.0         # discrepancy: sigma in 1/255 (0: known/MAD)
  c.fit.stop_tau = 1.0           # discrepancy: stop at tau * sigma^2
  c.fit.holdout = 0.05           # validation: held-out fraction
  c.fit.patience = 5             # validation: checks without improvement

  c.data = ml_collections.ConfigDict()
  c.data.images = 'astronaut'    # files, a folder, or built-in names
  c.data.measurement = ''        # already-corrupted images (no clean image)
  c.data.size = 512              # resize to size x size; 0 keeps the size
  c.data.crop = True             # crop sides to a multiple the model needs
  c.data.channels = 'auto'       # auto | gray | rgb | rgba

  c.output = ml_collections.ConfigDict()
  c.output.overwrite = False

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
