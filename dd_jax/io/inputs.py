"""A run's inputs from `config.data`: clean images or given measurements.

    names, clean, given = load_inputs(config)   # dd_jax.run
    names, clean = load_images(config.data, multiple=16)
    names, stack = load_stack(config.data, multiple=16)   # one shape
"""

from absl import logging
import numpy as np

from dd_jax import models
from dd_jax.errors import UserError
from dd_jax.inverse import operators
from dd_jax.io import images as data_lib


def size_multiple(config) -> int:
  """The multiple the image sides must have for config.model and operator."""
  mult = models.size_multiple(config.model)
  return int(np.lcm(mult, operators.scale_factor(config.operator)))


def load_images(data_cfg, multiple: int = 1):
  """Names and clean `[H, W, C]` images from `data_cfg` (images, size,
  channels, crop), cropped to a multiple of `multiple`."""
  sources = data_lib.list_sources(data_cfg.images)
  clean = [data_lib.fit_size(
      data_lib.load_image(s, data_cfg.get('channels', 'auto')),
      int(data_cfg.get('size', 0)), multiple, s, data_cfg.get('crop', True))
           for s in sources]
  return data_lib.unique_names(sources), clean


def load_stack(data_cfg, multiple: int = 1):
  """Names and the `[N, H, W, C]` stack of `load_images`; images of different
  sizes are a user error (one vmapped fit needs one shape)."""
  names, clean = load_images(data_cfg, multiple)
  if len({x.shape for x in clean}) > 1:
    raise UserError('The images differ in size; set data.size > 0 so they '
                    'are resized to one size and fitted together.')
  return names, np.stack(clean)


def load_inputs(config):
  """Returns names, clean images (or None) and given measurements (or None)."""
  d = config.data
  if d.get('measurement'):
    sources = data_lib.list_sources(d.measurement)
    ys = [data_lib.load_measurement(s, d.get('channels', 'auto'))
          for s in sources]
    logging.info('[data] %d measurement(s) given, no clean image: PSNR '
                 'against ground truth is not reported.', len(ys))
    operators.check_given_measurement(config.operator)
    mult = max(size_multiple(config) // operators.scale_factor(
        config.operator), 1)
    ys = [data_lib.fit_size(y, 0, mult, s, d.get('crop', True))
          for y, s in zip(ys, sources)]
    return data_lib.unique_names(sources), None, ys
  names, clean = load_images(d, size_multiple(config))
  return names, clean, None
