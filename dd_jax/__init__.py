"""dd_jax: the Deep Decoder and other untrained image priors in JAX and Flax.

    from dd_jax import DeepDecoder, fit_images
    result = fit_images(config, clean=images)   # one record per image

The packages, each one job:
  models/      Flax modules: the deep decoder, DIP's skip net, their layers
  inverse/     forward operators (one family per file), noise, losses
  fitting/     the pure step and chunk, the host loop, optimizers, stopping,
               sharding, keys, and `engine.fit_images`, the one way to fit
  io/          images and measurements in; PNG/JSON/CSV/plots out
  evaluation/  metrics and classical baselines
  codec/       the deep decoder as an image codec (.ddz)
  run.py (one run from a config), main.py (the command line), errors.py
"""

__version__ = '0.2.0'

from dd_jax.errors import UserError
from dd_jax.fitting.engine import FitImagesResult, fit_images
from dd_jax.inverse.operators import OPERATORS, make_operator, measure
from dd_jax.models import (MODELS, DeepDecoder, Dip, ImageModel, make_model,
                           param_count, summary_table)

__all__ = [
    '__version__', 'UserError', 'FitImagesResult', 'fit_images', 'OPERATORS',
    'make_operator', 'measure', 'MODELS', 'DeepDecoder', 'Dip', 'ImageModel',
    'make_model', 'param_count', 'summary_table',
]
