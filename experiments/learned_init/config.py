"""Learned initialization: meta-learn the deep decoder's initial weights on
training images (Reptile), then fit held-out images from them and from the
random init.

  python -m experiments.learned_init.run \
    --config=experiments/learned_init/config.py:cpu \
    --workdir=runs/learned_init_cpu

The learned init is written to <workdir>/init; any fit starts from it with
  python -m dd_jax.main --config=configs/denoise.py:cpu \
    --config.data.size=128 --config.model.init_from=runs/learned_init_cpu/init

Training (section `train`, dd_jax/fitting/meta.py): random crops of the
train.images (scikit-image's built-ins, none of them evaluated), each resized
so its short side is train.scale times data.size, noisy at the run's sigma;
each Reptile step fits train.meta.batch crops for train.meta.inner_steps
steps of the run's own fit step. Evaluation: the data.images (held-out
natural images) and bias.images (unlike the training set: a phantom, text)
are each fitted twice with the paper protocol (Adam lr 0.01, fit.steps
steps), from the random init and from the learned one, on the same noisy
measurement.

full: 512x512, k=128 d=6 (paper), 1900 steps; meta 400 x 20 steps x 4 crops
(GPU; not run here). cpu (~15 min on 2 cores): 128x128, k=64 d=5, 1900
steps; meta 200 x 20 x 4. test: 32x32, k=8 d=2, 20 steps; meta 3 x 2 x 2.
Args: preset, sigma (in 1/255 units), learn_input.
Set `init_from` to evaluate an init saved before (no training).
"""

import ml_collections

from configs import common
from dd_jax import configurable
from dd_jax.fitting import meta

TRAIN_IMAGES = ('coffee,chelsea,rocket,immunohistochemistry,'
                'hubble_deep_field,retina,brick,grass,gravel,moon')


def get_config(arg=None):
  a = common.parse_arg(arg, sigma=25.0, learn_input=False)
  p = a.preset
  c = common.base_config(p)
  c.operator.name = 'identity'
  c.operator.noise.sigma = a.sigma / 255
  c.data.images = 'astronaut,camera,coins'  # held out: never trained on
  c.data.size = {'full': 512, 'cpu': 128, 'test': 32}[p]
  c.data.channels = 'rgb'
  c.model.k = {'full': 128, 'cpu': 64, 'test': 8}[p]
  c.model.depth = {'full': 6, 'cpu': 5, 'test': 2}[p]
  c.fit.steps = {'full': 1900, 'cpu': 1900, 'test': 20}[p]
  c.fit.log_every = {'full': 25, 'cpu': 10, 'test': 2}[p]

  c.train = ml_collections.ConfigDict()
  c.train.images = TRAIN_IMAGES if p != 'test' else 'coffee,brick'
  c.train.scale = {'full': 1.0, 'cpu': 2.0, 'test': 2.0}[p]
  c.train.flips = True
  c.train.meta = configurable.section(meta.MetaOptions)
  c.train.meta.learn_input = a.learn_input
  c.train.meta.outer_steps = {'full': 400, 'cpu': 200, 'test': 3}[p]
  c.train.meta.inner_steps = {'full': 20, 'cpu': 20, 'test': 2}[p]
  c.train.meta.batch = {'full': 4, 'cpu': 4, 'test': 2}[p]
  c.train.meta.log_every = {'full': 10, 'cpu': 10, 'test': 1}[p]
  c.init_from = ''  # a saved init to evaluate instead of training one

  c.bias = ml_collections.ConfigDict()
  c.bias.images = 'shepp_logan,text'  # unlike the training images

  c.eval = ml_collections.ConfigDict()
  # PSNR after these steps (multiples of fit.log_every, at most fit.steps).
  c.eval.report_steps = {'full': (100, 500, 1900), 'cpu': (100, 500, 1900),
                         'test': (2, 10, 20)}[p]
  # "Reached the protocol's PSNR": within this many dB of the random
  # init's final PSNR (its best iterate after fit.steps).
  c.eval.tolerance_db = 0.1
  return c
