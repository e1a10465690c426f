"""Inpainting: y = x * mask (1 = observed), the mask shared over channels.

Masks that observe nothing (all zero, or nothing in some channel) are
refused when the operator is built (`check_mask`), before any fit.

Subtitle removal (kind='auto_text'): the mask is found in the corrupted frame
itself, as the follow-up paper does (../shared/papers/deep_decoder_evaluation_
and_improvements.txt, sec. 3): Sobel gradient magnitude, threshold, dilation,
within a band of rows (`auto_text_mask`). `burn_subtitles` renders white text
with a dark outline onto an image and returns the true mask, for experiments
with a known ground truth (experiments/subtitles/).
"""

import math

import jax
import jax.numpy as jnp
import numpy as np

from dd_jax import configurable
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


def check_auto_text(*, auto_band, auto_threshold, auto_white, auto_outline,
                    auto_dilation) -> dict:
  """Raises (UserError, naming the operator.mask field) unless the auto_text
  settings are usable; returns them as `auto_text_mask`'s keyword
  arguments."""
  try:
    top, bottom = (float(v) for v in auto_band)
  except (TypeError, ValueError):
    raise UserError(f'operator.mask.auto_band must be two fractions of the '
                    f'height (top, bottom), e.g. (0.7, 1.0); got '
                    f'{auto_band!r}.') from None
  if not 0.0 <= top < bottom <= 1.0:
    raise UserError(f'operator.mask.auto_band=({top:g}, {bottom:g}) must be '
                    f'fractions of the height with 0 <= top < bottom <= 1, '
                    f'e.g. (0.7, 1.0) for the bottom 30% of the frame.')
  out = {'band': (top, bottom)}
  for field, value, hi in (('auto_threshold', auto_threshold, math.inf),
                           ('auto_white', auto_white, 1.0)):
    try:
      value = float(value)
    except (TypeError, ValueError):
      raise UserError(f'operator.mask.{field} must be a number, got '
                      f'{value!r}.') from None
    if not 0.0 <= value <= hi:
      want = '>= 0' if hi == math.inf else f'in [0, {hi:g}]'
      raise UserError(f'operator.mask.{field} must be {want}, got {value}.')
    out[field.removeprefix('auto_')] = value
  for field, value in (('auto_outline', auto_outline),
                       ('auto_dilation', auto_dilation)):
    if (isinstance(value, bool) or not isinstance(value, (int, np.integer))
        or value < 0):
      raise UserError(f'operator.mask.{field} must be a whole number of '
                      f'pixels >= 0, got {value!r}.')
    out[field.removeprefix('auto_')] = int(value)
  return out


def band_rows(h: int, band) -> slice:
  """The rows `[top * h, bottom * h)` of `band` (top, bottom fractions)."""
  top, bottom = band
  return slice(int(math.floor(top * h)), int(math.ceil(bottom * h)))


def auto_text_mask(frame, *, band=(0.7, 1.0), threshold: float = 0.2,
                   white: float = 0.8, outline: int = 2,
                   dilation: int = 1) -> np.ndarray:
  """The mask of a frame with burned-in text: bool `[H, W]`, True = observed
  (False on the text). frame: `[H, W, C]` (or `[H, W]`) in [0, 1].

  The follow-up paper's segmenter (Sobel gradient, dilation, binarization),
  restricted to the rows of `band` (top, bottom fractions of the height) and
  to text-like edges: edge pixels are those whose Sobel gradient magnitude
  (skimage.filters.sobel of the gray frame, the mean over channels) exceeds
  `threshold`; only edges within `outline` + 1 pixels of a pixel at least
  `white` bright count (the text's fill; its dark outline is up to `outline`
  pixels wide; white=0 keeps every edge, the paper's plain segmenter). They
  are dilated by a disk of radius `dilation`, and the holes they enclose
  (letter strokes wider than the edges) are filled. Nothing outside the band
  is ever masked.
  """
  from scipy import ndimage
  from skimage import filters
  from skimage import morphology
  f = np.asarray(frame, np.float32)
  gray = f if f.ndim == 2 else f.mean(axis=2)
  rows = np.zeros(gray.shape, bool)
  rows[band_rows(gray.shape[0], band)] = True
  text = (filters.sobel(gray) > threshold) & rows
  if white > 0:
    text &= ndimage.binary_dilation(gray >= white,
                                    morphology.disk(outline + 1))
  if dilation > 0:
    text = ndimage.binary_dilation(text, morphology.disk(dilation))
  text = ndimage.binary_fill_holes(text) & rows
  return ~text


def burn_subtitles(image, text: str, *, size: int = 0, outline: int = 0,
                   bottom: float = 0.95, fill: float = 1.0,
                   outline_value: float = 0.0):
  """`(frame, text_mask)`: `image` `[H, W, C]` in [0, 1] with `text` (lines
  split at '\\n') burned in, centred, its last line ending at `bottom` * H:
  `fill`-valued (white) letters with an `outline`-pixel dark outline
  (`outline_value`), antialiased. text_mask: bool `[H, W]`, True on every
  pixel the text or its outline touches (the ground truth of
  `auto_text_mask`, which marks it False).

  size: the font's pixel size (0: H // 12, at least 8), made smaller when
  a line would not fit in 94% of the width; outline: 0 gives
  round(size / 12), at least 1.
  """
  from PIL import Image, ImageDraw, ImageFont
  img = np.asarray(image, np.float32)
  h, w = img.shape[:2]
  size = int(size) or max(8, h // 12)
  outline = int(outline) or max(1, round(size / 12))
  lines = str(text).split('\n')
  letters = Image.new('L', (w, h), 0)   # the fill's coverage
  covered = Image.new('L', (w, h), 0)   # fill and outline's coverage
  draw_l, draw_c = ImageDraw.Draw(letters), ImageDraw.Draw(covered)
  while True:
    font = ImageFont.load_default(size=size)
    boxes = [draw_c.textbbox((0, 0), line, font=font, stroke_width=outline)
             for line in lines]
    if size <= 6 or max(b[2] - b[0] for b in boxes) <= 0.94 * w:
      break
    size -= 1
  step = int(round(size * 1.25))
  top = int(round(bottom * h)) - step * len(lines)
  for i, (line, box) in enumerate(zip(lines, boxes)):
    xy = ((w - (box[2] - box[0])) // 2 - box[0], top + i * step)
    # The same call (stroke included) places both layers identically.
    draw_l.text(xy, line, font=font, fill=255, stroke_width=outline,
                stroke_fill=0)
    draw_c.text(xy, line, font=font, fill=255, stroke_width=outline,
                stroke_fill=255)
  a_fill = np.asarray(letters, np.float32)[..., None] / 255
  a_all = np.asarray(covered, np.float32)[..., None] / 255
  frame = (img * (1 - a_all) + fill * a_fill +
           outline_value * (a_all - a_fill))
  return np.clip(frame, 0, 1).astype(np.float32), a_all[..., 0] > 0


def fixed_mask(hw, kind: str, *, block: float = 0.25,
               text: str = 'Deep Decoder', frame=None,
               auto_text=None) -> np.ndarray:
  """The bool `[H, W]` mask of a non-random `kind`: 'block', 'text',
  'auto_text' (found in `frame`, the corrupted image `[H, W, C]`, with
  `auto_text_mask`'s keyword arguments `auto_text`) or a mask file (see
  images.load_mask)."""
  if kind == 'block':
    block = float(block)
    if not 0.0 <= block < 1.0:
      raise UserError(f'operator.mask.block (the hole side over the image '
                      f'side) must be in [0, 1), got {block}.')
    return block_mask(hw, block)
  if kind == 'text':
    return text_mask(hw, text)
  if kind == 'auto_text':
    if frame is None:
      raise UserError(
          "operator.mask.kind='auto_text' finds the text in the corrupted "
          "frame, and this operator was built without one: use "
          "operator.name='mask' (not inside compose) through dd_jax.run, or "
          "pass the frame: inpaint.mask(shape, frame, kind='auto_text').")
    if tuple(np.shape(frame)[:2]) != tuple(hw):
      raise ValueError(f'The frame is {list(np.shape(frame))}, the image '
                       f'{list(hw)}.')
    return auto_text_mask(frame, **(auto_text or {}))
  return data_lib.load_mask(kind, hw)


# operator.mask.auto_<name> defaults to auto_text_mask's <name>.
_AUTO = configurable.defaults(auto_text_mask)


def mask(image_shape, frame=None, /, *, kind: str = 'random',
         observed: float = 0.5, block: float = 0.25,
         text: str = 'Deep Decoder', normalize: str = 'observed',
         auto_band=_AUTO['band'], auto_threshold=_AUTO['threshold'],
         auto_white=_AUTO['white'], auto_outline=_AUTO['outline'],
         auto_dilation=_AUTO['dilation']) -> Operator:
  """Inpainting operator for images `[H, W, C]`.

  kind: 'random' (a fraction `observed` kept, drawn per image), 'block' (a
    centred hole of side `block` * side), 'text' (lines of `text`),
    'auto_text' (burned-in text found in `frame`, the corrupted image
    `[H, W, C]`; the auto_* settings are `auto_text_mask`'s band,
    threshold, white, outline, dilation) or a path to a mask image
    (nonzero = observed).
  frame: only for 'auto_text' (positional: it is data, not a config field).
  normalize: 'observed' (the loss averages over observed pixels) or 'all'
    (the reference: the masked loss divided by all pixels).
  """
  hw = tuple(image_shape[:2])
  if kind == 'random':
    observed = float(observed)
    _check_random(hw, observed)
    make = lambda key, i: {'mask': random_mask(key, hw, observed)}
  else:
    auto = None
    if kind == 'auto_text':
      auto = check_auto_text(
          auto_band=auto_band, auto_threshold=auto_threshold,
          auto_white=auto_white, auto_outline=auto_outline,
          auto_dilation=auto_dilation)
    fixed = check_mask(fixed_mask(hw, kind, block=block, text=text,
                                  frame=frame, auto_text=auto),
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
