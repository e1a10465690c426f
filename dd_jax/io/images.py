"""Loading, validating, resizing and saving images as `[H, W, C]` float32 in [0, 1].

Image sources: a file path, a folder (all images in it, sorted), or the name of
an image that ships inside scikit-image's wheel (`astronaut`, `camera`, ...),
so runs need no downloads.
"""

import collections
import os
from typing import Sequence

from absl import logging
import numpy as np

from dd_jax.errors import UserError

IMAGE_EXTENSIONS = ('.png', '.jpg', '.jpeg', '.tif', '.tiff', '.bmp', '.webp')
# Images in scikit-image's wheel (no download needed).
BUILTIN_IMAGES = ('astronaut', 'camera', 'coffee', 'chelsea', 'rocket',
                  'immunohistochemistry', 'hubble_deep_field', 'retina', 'moon',
                  'brick', 'grass', 'gravel', 'coins', 'cat', 'page', 'text')
CHANNEL_MODES = {'auto': None, 'gray': 1, 'rgb': 3, 'rgba': 4}


def _say(msg: str):
  logging.info('[data] %s', msg)


def _to_float(arr: np.ndarray, name: str) -> np.ndarray:
  """uint8 / uint16 / bool / float -> float32 in [0, 1]."""
  if arr.dtype == np.bool_:
    return arr.astype(np.float32)
  if arr.dtype == np.uint8:
    return arr.astype(np.float32) / 255.0
  if arr.dtype == np.uint16:
    _say(f'{name}: 16-bit image, scaled by 1/65535.')
    return arr.astype(np.float32) / 65535.0
  if np.issubdtype(arr.dtype, np.floating):
    arr = arr.astype(np.float32)
    if not np.all(np.isfinite(arr)):
      raise UserError(f'{name}: the image holds NaN or infinite values.')
    if arr.min() < 0 or arr.max() > 1:
      raise UserError(f'{name}: float image with values outside [0, 1] '
                      f'({arr.min():.3g}..{arr.max():.3g}); rescale it first.')
    return arr
  raise UserError(f'{name}: unsupported pixel type {arr.dtype}; use 8- or '
                  f'16-bit PNG/JPEG/TIFF.')


def _read_file(path: str) -> np.ndarray:
  import imageio.v3 as iio  # Imported here: only file loading needs it.
  from PIL import Image
  try:
    with Image.open(path) as im:
      mode = im.mode
      if mode == 'P':
        _say(f'{path}: palette image converted to RGB.')
        im = im.convert('RGBA' if 'transparency' in im.info else 'RGB')
      elif mode in ('1', 'L', 'LA', 'RGB', 'RGBA', 'I;16', 'I;16B', 'I'):
        pass
      elif mode == 'CMYK' or mode == 'YCbCr':
        _say(f'{path}: {mode} image converted to RGB.')
        im = im.convert('RGB')
      if mode in ('I', 'I;16', 'I;16B'):
        arr = np.asarray(im)
        if arr.dtype != np.uint16:
          arr = arr.astype(np.uint16) if arr.max() < 65536 else arr
        return arr
      return np.asarray(im)
  except FileNotFoundError:
    raise UserError(f'Image file not found: {path!r}.') from None
  except (OSError, SyntaxError, ValueError):
    try:
      return np.asarray(iio.imread(path))
    except Exception as e:  # pylint: disable=broad-except
      raise UserError(f'Cannot read image {path!r}: {e}') from None


def _builtin(name: str) -> np.ndarray:
  import skimage.data  # Ships the images in its wheel.
  return np.asarray(getattr(skimage.data, name)())


def load_image(source: str, channels: str = 'auto') -> np.ndarray:
  """Loads one image as float32 `[H, W, C]`; C from the file unless `channels`."""
  if os.path.isfile(source):
    arr = _read_file(source)
  elif source in BUILTIN_IMAGES:
    arr = _builtin(source)
  else:
    raise UserError(
        f'Image not found: {source!r} is neither a file nor a built-in image '
        f'name; give a path or one of {", ".join(BUILTIN_IMAGES)}.')
  img = _to_float(arr, source)
  if img.ndim == 2:
    img = img[..., None]
  if img.ndim != 3 or img.shape[2] not in (1, 2, 3, 4):
    raise UserError(f'{source}: unsupported image shape {arr.shape}.')
  if img.shape[2] == 2:  # gray + alpha
    _say(f'{source}: gray+alpha image, alpha dropped.')
    img = img[..., :1]
  return convert_channels(img, channels, source)


def convert_channels(img: np.ndarray, channels: str, name: str) -> np.ndarray:
  """Converts `[H, W, C]` to the channel count `channels` asks for, loudly."""
  if channels not in CHANNEL_MODES:
    raise UserError(f'Unknown data.channels {channels!r}; choose one of '
                    f'{list(CHANNEL_MODES)}.')
  want = CHANNEL_MODES[channels]
  have = img.shape[2]
  if want is None or want == have:
    return img
  _say(f'{name}: converted {have} -> {want} channels (data.channels='
       f'{channels}).')
  rgb = img[..., :3] if have >= 3 else np.repeat(img, 3, axis=2)
  if want == 1:
    return (rgb @ np.array([0.2125, 0.7154, 0.0721], np.float32))[..., None]
  if want == 3:
    return rgb
  alpha = img[..., 3:4] if have == 4 else np.ones_like(img[..., :1])
  return np.concatenate([rgb, alpha], axis=2)


def list_sources(spec: str | Sequence[str]) -> list[str]:
  """Expands 'a.png,b.png', a folder, or a list into image sources."""
  items = spec.split(',') if isinstance(spec, str) else list(spec)
  out = []
  for item in (i.strip() for i in items):
    if not item:
      continue
    if os.path.isdir(item):
      found = sorted(os.path.join(item, f) for f in os.listdir(item)
                     if f.lower().endswith(IMAGE_EXTENSIONS))
      if not found:
        raise UserError(f'Folder {item!r} holds no images '
                        f'({", ".join(IMAGE_EXTENSIONS)}).')
      out.extend(found)
    else:
      out.append(item)
  if not out:
    raise UserError('No images given; set data.images (files, a folder, or a '
                    'built-in name such as astronaut).')
  return out


def unique_names(sources: Sequence[str]) -> list[str]:
  """File stems of `sources`, made unique: a, a_1, a_2, ..."""
  seen = collections.Counter()
  names = []
  for s in sources:
    base = os.path.splitext(os.path.basename(s))[0] or 'image'
    seen[base] += 1
    names.append(base if seen[base] == 1 else f'{base}_{seen[base] - 1}')
  return names


def resize(img: np.ndarray, hw: tuple[int, int]) -> np.ndarray:
  """Antialiased resize (Lanczos-3) of `[H, W, C]` to `hw`."""
  import jax
  import jax.numpy as jnp
  out = jax.image.resize(jnp.asarray(img), (*hw, img.shape[2]), 'lanczos3',
                         antialias=True)
  return np.clip(np.asarray(out), 0.0, 1.0)


def center_crop(img: np.ndarray, hw: tuple[int, int]) -> np.ndarray:
  h, w = img.shape[:2]
  top, left = (h - hw[0]) // 2, (w - hw[1]) // 2
  return img[top:top + hw[0], left:left + hw[1]]


def fit_size(img: np.ndarray, size: int, multiple: int, name: str,
             crop: bool = True) -> np.ndarray:
  """Resizes to `size` x `size` (0 keeps the size) and crops the sides down to
  a multiple of `multiple`, saying so; raises when cropping is off."""
  if size:
    h, w = img.shape[:2]
    if h != w:
      side = min(h, w)
      _say(f'{name}: {h}x{w} centre-cropped to {side}x{side} for data.size.')
      img = center_crop(img, (side, side))
    if img.shape[0] != size:
      img = resize(img, (size, size))
  h, w = img.shape[:2]
  hw = (h - h % multiple, w - w % multiple)
  if hw != (h, w):
    if img.ndim > 3:
      raise UserError(f'{name}: k-space of size {h}x{w} is not a multiple of '
                      f'{multiple} and cannot be cropped; lower model.depth.')
    if not crop or min(hw) == 0:
      raise UserError(
          f'{name}: size {h}x{w} is not a multiple of {multiple} (2^(d-1) '
          f'times the operator factor); set data.crop=True or resize it.')
    _say(f'{name}: {h}x{w} centre-cropped to {hw[0]}x{hw[1]} (multiple of '
         f'{multiple}).')
    img = center_crop(img, hw)
  return img


def load_mask(path: str, hw: tuple[int, int]) -> np.ndarray:
  """A mask image as bool `[H, W]`, nonzero (any channel) = observed."""
  if not os.path.isfile(path):
    raise UserError(
        f"Mask file not found: {path!r}. operator.mask.kind takes 'random', "
        f"'block', 'text' or a path to a mask image.")
  m = _read_file(path)
  m = m.reshape(m.shape[0], m.shape[1], -1).max(axis=2) > 0
  if m.shape != tuple(hw):
    _say(f'{path}: mask {m.shape[0]}x{m.shape[1]} centre-cropped to the '
         f'image, {hw[0]}x{hw[1]}.')
    m = center_crop(m[..., None], hw)[..., 0] if (
        m.shape[0] >= hw[0] and m.shape[1] >= hw[1]) else None
    if m is None:
      raise UserError(f'Mask {path!r} is smaller than the image {hw}.')
  return m


def to_uint8(img: np.ndarray) -> np.ndarray:
  img = np.asarray(img, np.float32)
  out = np.round(np.clip(img, 0, 1) * 255).astype(np.uint8)
  return out[..., 0] if out.shape[-1] == 1 else out


def save_png(path: str, img: np.ndarray):
  import imageio.v3 as iio
  iio.imwrite(path, to_uint8(img))


def synthetic_image(key_seed: int, hw=(64, 64), channels=3) -> np.ndarray:
  """A smooth piecewise image for tests: gradients, a disc and a bar."""
  rng = np.random.default_rng(key_seed)
  yy, xx = np.mgrid[0:hw[0], 0:hw[1]] / np.array(hw).reshape(2, 1, 1)
  planes = []
  for _ in range(channels):
    a, b, c = rng.uniform(0.2, 0.8, 3)
    disc = ((yy - a) ** 2 + (xx - b) ** 2) < 0.05
    plane = 0.3 + 0.3 * c * xx + 0.2 * yy + 0.3 * disc
    plane += 0.15 * ((xx > 0.7) & (yy < 0.5))
    planes.append(plane)
  return np.clip(np.stack(planes, -1), 0, 1).astype(np.float32)


def load_measurement(source: str, channels: str = 'auto') -> np.ndarray:
  """A given measurement: an image (see load_image) or a .npy array (e.g.
  MRI k-space; complex values become a trailing real/imag axis, and a 2-D
  complex array one channel: `[H, W] -> [H, W, 1, 2]`)."""
  if not source.lower().endswith('.npy'):
    return load_image(source, channels)
  try:
    arr = np.load(source)
  except (OSError, ValueError) as e:
    raise UserError(f'Cannot read measurement {source!r}: {e}') from None
  if np.iscomplexobj(arr):
    if arr.ndim == 2:
      arr = arr[..., None]
    arr = np.stack([arr.real, arr.imag], -1)
    _say(f'{source}: complex array stored as real/imag, shape {arr.shape}.')
  arr = arr.astype(np.float32)
  if not np.all(np.isfinite(arr)):
    raise UserError(f'{source}: the measurement holds NaN or infinite values.')
  return arr
