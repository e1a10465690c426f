"""Real-noise denoising: a folder of noisy/reference pairs (PolyU-style
`<scene>_real.*` / `<scene>_mean.*`), fitted with no noise added and no
noise level given; CBM3D at the estimated noise level beside it.

  python -m experiments.real_noise.run \
    --config=experiments/real_noise/config.py:cpu --workdir=runs/real_noise_cpu
  # the real benchmark (PolyU-Real-World-Noisy-Images-Dataset, its folder of
  # 100 cropped 512x512 <scene>_real.JPG / <scene>_mean.JPG pairs):
  python -m experiments.real_noise.run \
    --config=experiments/real_noise/config.py \
    --config.data.folder=/data/PolyU/CroppedImages --workdir=runs/real_noise

data.folder: the pairs' folder; '' (default) first writes synthetic pairs
into <workdir>/pairs: data.images (built-in names or files) resized to
data.size, through the camera pipeline of `dd_jax.inverse.camera_noise`
(section `camera`: a shot-noise gain, b read-noise std, both linear [0, 1]
units; bayer: RGGB mosaic + bilinear demosaicing + colour correction;
jpeg_quality: JPEG, 0 = PNG). data.pair pairs a given folder's files
(default '*_real.*:*_mean.*'; data.reference: the references' folder, ''
beside them); data.crop_size > 0 centre-crops every pair to that square
(then to the model's multiple), 0 keeps the whole image.

full (GPU, not run here): the follow-up paper's best denoiser, k=196, 4
layers (depth=3 upsamplings), 1000 steps (sec. 5.1, Table 1; it reports 10000
on the benchmark), on 512x512 synthetic pairs of six built-in images unless
data.folder is set. cpu (~5 min on 2 shared cores, README.md): astronaut,
coffee, chelsea at 128x128, k=64 d=5, 1000 steps. test: astronaut 32x32,
tiny model, 4 steps.

baselines.cbm3d: run CBM3D (the `bm3d` package: pip install -e
".[baselines]") at the estimated sigma; when the package is missing the
table says 'not installed' and the run goes on. False skips it.
"""

import ml_collections

from configs import common

# size, k, depth, steps, log_every
SETTINGS = {'full': (512, 196, 3, 1000, 100),
            'cpu': (128, 64, 5, 1000, 100),
            'test': (32, 8, 3, 4, 2)}
IMAGES = {'full': 'astronaut,coffee,chelsea,rocket,immunohistochemistry,'
                  'retina',
          'cpu': 'astronaut,coffee,chelsea', 'test': 'astronaut'}


def get_config(arg=None):
  a = common.parse_arg(arg)
  p = a.preset
  size, k, depth, steps, log_every = SETTINGS[p]
  c = common.base_config(p)
  c.preset = p
  c.data.folder = ''  # '' = synthetic pairs written into <workdir>/pairs
  c.data.pair = '*_real.*:*_mean.*'  # for data.folder (PolyU names)
  c.data.reference = ''  # the references' folder ('' = beside them)
  c.data.crop_size = 0  # centre crop of each given pair (0: whole image)
  c.data.images, c.data.size, c.data.channels = IMAGES[p], size, 'rgb'
  # The synthetic camera (dd_jax/inverse/camera_noise.py): at these levels
  # the noisy 128x128 images are ~25.5 dB PSNR, noise std ~13/255.
  c.camera = ml_collections.ConfigDict(dict(
      a=0.004, b=0.004, bayer=True, jpeg_quality=90, seed=0))
  c.model.k, c.model.depth = k, depth
  if p == 'full':  # The follow-up's winning hyperparameters (its Table 1).
    c.model.activation, c.model.leaky_slope = 'leaky_relu', 0.1
  c.operator.name = 'identity'
  c.operator.noise.name = 'none'  # The noise is in the files already.
  c.fit.steps, c.fit.log_every = steps, log_every
  c.baselines = ml_collections.ConfigDict(dict(cbm3d=True))
  return c
