"""Spectral bias: which frequencies the deep decoder (1x1), a 3x3-conv deep
decoder and DIP fit first, and how much of the noise each fits per band.

  python -m experiments.spectral_bias.run \
    --config=experiments/spectral_bias/config.py:cpu \
    --workdir=runs/spectral_bias_cpu

One noisy image (sigma 25/255, clipped) is fitted by each model of
`config.fit_models` with plain Adam (no best iterate, jitter, EMA or
rollback); at every log step the fit's probe records the band energies of
the output, of its error to the clean image and their inner products with
the noise and the clean image (README.md).

full: astronaut 512x512, deep decoder k=128 d=6 (1x1, paper) and 3x3 k=43
(equal parameters), DIP 128 channels 5 scales; 6000 steps each, log every
25 (GPU: not run here). cpu (10-15 min on 2 shared cores, much of it compiling):
128x128, 1x1 k=64 d=5, 3x3 k=22 d=5 (equal parameters), DIP 32 channels 4
scales; 2000 steps each, log every 10. test (compile-bound: ~30 s with the
tests' compilation cache, 1-2 min cold on this loaded machine): 32x32, tiny
models, 6 steps.

Sections: data, operator (shared by all fits), models.<name>.{model, optim,
fit} (one run config's sections per model; e.g.
--config.models.dip.fit.steps=2000), fit_models (which, in order),
spectrum (bands, spacing, lowest, fraction, noise_fraction, plot_steps).
Args: preset, sigma (in 1/255 units).
"""

import ml_collections

from configs import common

LABELS = {'dd': 'deep decoder (1x1)', 'dd3x3': 'deep decoder (3x3)',
          'dip': 'DIP'}


def _decoder(preset, conv_size, k):
  c = common.base_config(preset)
  c.model.conv_size, c.model.k = conv_size, k
  c.model.depth = {'full': 6, 'cpu': 5, 'test': 2}[preset]
  return c


def _dip(preset):
  c = common.base_config(preset)
  c.model.name, c.model.upsample = 'dip', 'bilinear'
  c.model.activation, c.model.leaky_slope = 'leaky_relu', 0.2
  width, scales = {'full': (128, 5), 'cpu': (32, 4), 'test': (8, 2)}[preset]
  c.model.dip = ml_collections.ConfigDict(dict(
      scales=scales, channels_down=(width,) * scales,
      channels_up=(width,) * scales, channels_skip=(4,) * scales,
      input_channels=32))
  return c


def get_config(arg=None):
  a = common.parse_arg(arg, sigma=25.0)
  p = a.preset
  base = common.base_config(p)
  c = ml_collections.ConfigDict()
  c.seed = 0
  c.fit_models = 'dd,dd3x3,dip'  # names in `models`, fitted in this order
  c.data = base.data
  c.data.images = 'astronaut'    # one image
  c.data.size = {'full': 512, 'cpu': 128, 'test': 32}[p]
  c.data.channels = 'rgb'
  c.operator = base.operator
  c.operator.noise.sigma = a.sigma / 255
  c.mesh, c.output = base.mesh, base.output

  # Equal parameter counts for the decoders: 1x1 k=128 ~ 3x3 k=43 (d=6),
  # 1x1 k=64 ~ 3x3 k=22 (d=5; experiments/conv_vs_1x1).
  k1, k3 = {'full': (128, 43), 'cpu': (64, 22), 'test': (8, 4)}[p]
  fits = {'dd': _decoder(p, 1, k1), 'dd3x3': _decoder(p, 3, k3),
          'dip': _dip(p)}
  steps = {'full': dict(dd=6000, dd3x3=6000, dip=6000),
           'cpu': dict(dd=2000, dd3x3=2000, dip=2000),
           'test': dict(dd=6, dd3x3=6, dip=6)}[p]
  log_every = {'full': 25, 'cpu': 10, 'test': 2}[p]
  c.models = ml_collections.ConfigDict()
  for name, f in fits.items():
    f.optim.lr = 0.01
    f.fit.steps, f.fit.log_every = steps[name], log_every
    f.fit.best_iterate = False  # The output is the latest weights'.
    c.models[name] = ml_collections.ConfigDict(dict(
        model=f.model, optim=f.optim, fit=f.fit))

  # Bands of the radial spectrum (dd_jax.evaluation.spectra.band_edges):
  # band 0 is the image mean alone, then `bands - 1` log-spaced bands from
  # `lowest` frequency steps to sqrt(1/2) cycles/pixel.
  c.spectrum = ml_collections.ConfigDict(dict(
      bands=12, spacing='log', lowest=2.5,
      fraction=0.9,      # the "holds 90% of the clean energy" threshold
      noise_fraction=0.25,  # the step the output holds 25% of a band's noise
      plot_steps=()))    # steps drawn in spectra.png; () = 5 log-spaced ones
  return c
