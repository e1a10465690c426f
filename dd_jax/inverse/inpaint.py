"""Inpainting: y = x * mask (1 = observed), the mask shared over channels.

Masks that observe nothing (all zero, or nothing in some channel) are
refused when the operator is built (`check_mask`), before any fit.
"""

import math

import jax
import jax.numpy as jnp
import numpy as np

from dd_jax.errors import UserError
from dd_jax.inverse.base import Operator
from dd_jax.io import images as data_lib

NORMALIZE = ('observed', 'all')
# A random mask may miss every pixel with at most this probability.
MAX_EMPTY_PROBABILITY = 1e-3


def check_mask(mask, name: str = 'The mask') -> np.ndarray:
  """Raises unless bool-like `mask` `[H, W]` (or per channel `[H, W, C]`)
  observes a pixel, in every channel; returns it as a numpy bool array."""
  m = np.asarray(mask) != 0
  if m.size and m.ndim == 3:
    seen = m.reshape(-1, m.shape[2]).any(axis=0)
    if seen.any() and not seen.all():
      missing = [int(c) for c in np.flatnonzero(~seen)]
      raise UserError(f'{name} observes nothing in channel(s) {missing} of '
                      f'{m.shape[2]}; every channel needs observed pixels '
                      f'(nonzero entries).')
  if not m.any():
    raise UserError(f'{name} observes no pixel (all zero): the fit would '
                    f'have nothing to match; use a mask with observed '
                    f'(nonzero) pixels.')
  return m


def _check_random(hw, observed: float):
  """Refuses `observed` fractions outside (0, 1] and ones so small that a
  drawn mask may well observe no pixel at all."""
  if not 0.0 < observed <= 1.0:
    raise UserError(f'operator.mask.observed must be in (0, 1], got '
                    f'{observed}.')
  n = hw[0] * hw[1]
  p_empty = math.exp(n * math.log1p(-observed)) if observed < 1 else 0.0
  if p_empty > MAX_EMPTY_PROBABILITY:
    raise UserError(
        f'operator.mask.observed={observed} keeps about {observed * n:.2g} of '
        f'the {n} pixels of a {hw[0]}x{hw[1]} image (none at all with '
        f'probability {p_empty:.2g}); raise operator.mask.observed.')


def random_mask(key: jax.Array, hw, observed: float) -> jax.Array:
  """bool `[H, W]`, each pixel observed with probability `observed`."""
  return jax.random.uniform(key, hw) < observed


def block_mask(hw, block: float) -> np.ndarray:
  """bool `[H, W]` with a centred hole of side `block` * side."""
  h, w = hw
  bh, bw = int(h * block), int(w * block)
  m = np.ones(hw, bool)
  m[(h - bh) // 2:(h + bh) // 2, (w - bw) // 2:(w + bw) // 2] = False
  return m


def text_mask(hw, text: str = 'Deep Decoder', size: int = 0) -> np.ndarray:
  """Lines of `text` over the image; text pixels are unobserved (False)."""
  from PIL import Image, ImageDraw, ImageFont
  h, w = hw
  size = size or max(8, h // 16)
  font = ImageFont.load_default(size=size)
  canvas = Image.new('L', (w, h), 0)
  draw = ImageDraw.Draw(canvas)
  line = ' '.join([text] * (w // max(len(text) * size // 2, 1) + 2))
  for row, top in enumerate(range(size // 2, h, int(size * 1.8))):
    draw.text((-(row * size) % (size * 4) - size * 2, top), line, fill=255,
              font=font)
  return np.asarray(canvas) == 0


def fixed_mask(hw, kind: str, *, block: float = 0.25,
               text: str = 'Deep Decoder') -> np.ndarray:
  """The bool `[H, W]` mask of a non-random `kind`: 'block', 'text' or a
  mask file (see images.load_mask)."""
  if kind == 'block':
    block = float(block)
    if not 0.0 <= block < 1.0:
      raise UserError(f'operator.mask.block (the hole side over the image '
                      f'side) must be in [0, 1), got {block}.')
    return block_mask(hw, block)
  if kind == 'text':
    return text_mask(hw, text)
  return data_lib.load_mask(kind, hw)


def mask(image_shape, *, kind: str = 'random', observed: float = 0.5,
         block: float = 0.25, text: str = 'Deep Decoder',
         normalize: str = 'observed') -> Operator:
  """Inpainting operator for images `[H, W, C]`.

  kind: 'random' (a fraction `observed` kept, drawn per image), 'block' (a
    centred hole of side `block` * side), 'text' (lines of `text`) or a path
    to a mask image (nonzero = observed).
  normalize: 'observed' (the loss averages over observed pixels) or 'all'
    (the reference: the masked loss divided by all pixels).
  """
  hw = tuple(image_shape[:2])
  if kind == 'random':
    observed = float(observed)
    _check_random(hw, observed)
    make = lambda key, i: {'mask': random_mask(key, hw, observed)}
  else:
    fixed = check_mask(fixed_mask(hw, kind, block=block, text=text),
                       f'operator.mask.kind={kind!r}')
    make = lambda key, i: {'mask': jnp.asarray(fixed)}
  if normalize not in NORMALIZE:
    raise UserError(f'Unknown operator.mask.normalize {normalize!r}; choose '
                    f'one of {list(NORMALIZE)}.')

  def forward(x, aux):
    return x * aux['mask'][..., None].astype(x.dtype)

  weight = ((lambda aux: aux['mask'][..., None].astype(jnp.float32))
            if normalize == 'observed' else None)
  return Operator('mask', forward, make, tuple(image_shape),
                  tuple(image_shape), weight)
