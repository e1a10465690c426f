"""A run's inputs from `config.data`: clean images or given measurements.

    inp = load_inputs(config)   # names, sources, clean, given, infos
    names, clean = load_images(config.data, multiple=16)
    names, stack = load_stack(config.data, multiple=16)   # one shape
"""

import os
from typing import NamedTuple

from absl import logging
import numpy as np

from dd_jax import models
from dd_jax.errors import UserError
from dd_jax.inverse import operators
from dd_jax.io import images as data_lib


class Inputs(NamedTuple):
  """names: one output name per image (unique); sources: the file (absolute
  path) or built-in name each was read from; clean: `[H, W, C]` images or
  None (data.complex: complex images as channel pairs `[H, W, 2C]`, see
  `images.to_complex`); given: given measurements or None; infos: one
  `images.ImageInfo` per input (bit depth, alpha passed through)."""
  names: list
  sources: list
  clean: list | None
  given: list | None
  infos: list


def size_multiple(config) -> int:
  """The multiple the image sides must have for config.model and operator."""
  mult = models.size_multiple(config.model)
  return int(np.lcm(mult, operators.scale_factor(config.operator)))


def load_images(data_cfg, multiple: int = 1):
  """Names and clean `[H, W, C]` images from `data_cfg` (images, size,
  channels, crop, alpha), cropped to a multiple of `multiple`."""
  names, _, clean, _ = _load(data_cfg, data_cfg.images, multiple,
                             int(data_cfg.get('size', 0)), False)
  return names, clean


def load_stack(data_cfg, multiple: int = 1):
  """Names and the `[N, H, W, C]` stack of `load_images`; images of different
  sizes are a user error (one vmapped fit needs one shape)."""
  names, clean = load_images(data_cfg, multiple)
  if len({x.shape for x in clean}) > 1:
    raise UserError('The images differ in size; set data.size > 0 so they '
                    'are resized to one size and fitted together.')
  return names, np.stack(clean)


def load_inputs(config) -> Inputs:
  """The clean images of `config.data.images`, or the given measurements of
  `config.data.measurement` (then `clean` is None)."""
  d = config.data
  mult = size_multiple(config)
  if not d.get('measurement'):
    names, sources, clean, infos = _load(d, d.images, mult,
                                         int(d.get('size', 0)), False)
    return Inputs(names, sources, clean, None, infos)
  operators.check_given_measurement(config.operator)
  mult = max(mult // operators.scale_factor(config.operator), 1)
  names, sources, ys, infos = _load(d, d.measurement, mult, 0, True)
  logging.info('[data] %d measurement(s) given, no clean image: PSNR '
               'against ground truth is not reported.', len(ys))
  return Inputs(names, sources, None, ys, infos)


def _load(d, spec, multiple, size, measurement):
  """Names, sources, pixels and infos of the inputs listed in `spec`."""
  sources = data_lib.list_sources(spec)
  pixels, infos = [], []
  complex_valued = bool(d.get('complex', False))
  for s in sources:
    _check_kind(s, measurement, complex_valued)
    x, info = data_lib.load_input(
        s, channels=d.get('channels', 'auto'), size=size, multiple=multiple,
        crop=d.get('crop', True), alpha=d.get('alpha', 'keep'),
        measurement=measurement, complex_valued=complex_valued,
        phase=d.get('phase', 'none'))
    pixels.append(x)
    infos.append(info)
  where = [os.path.abspath(s) if os.path.isfile(s) else s for s in sources]
  return data_lib.unique_names(sources), where, pixels, infos


def _check_kind(source: str, measurement: bool, complex_valued: bool):
  """Refuses a missing measurement file and an array given as a real image."""
  if measurement and not os.path.exists(source):
    raise UserError(f'Measurement file not found: {source!r}.')
  if (not measurement and not complex_valued and
      source.lower().endswith('.npy')):
    raise UserError(f'{source!r} is a NumPy array, not an image file; give '
                    'arrays (e.g. k-space) as data.measurement, or a complex '
                    'image with data.complex=True.')
