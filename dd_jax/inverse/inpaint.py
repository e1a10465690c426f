"""Inpainting: y = x * mask (1 = observed), the mask shared over channels."""

import jax
import jax.numpy as jnp
import numpy as np

from dd_jax.errors import UserError
from dd_jax.inverse.base import Operator
from dd_jax.io import images as data_lib

NORMALIZE = ('observed', 'all')


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
    if not 0.0 < observed <= 1.0:
      raise UserError(f'operator.mask.observed must be in (0, 1], got '
                      f'{observed}.')
    make = lambda key, i: {'mask': random_mask(key, hw, observed)}
  else:
    if kind == 'block':
      fixed = block_mask(hw, float(block))
    elif kind == 'text':
      fixed = text_mask(hw, text)
    else:
      fixed = data_lib.load_mask(kind, hw)
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
