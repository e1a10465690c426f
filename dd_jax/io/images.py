"""Loading, validating, resizing and saving images as `[H, W, C]` float32 in [0, 1].

Image sources: a file path, a folder (all images in it, sorted), or the name of
an image that ships inside scikit-image's wheel (`astronaut`, `camera`, ...),
so runs need no downloads.

What a file's outputs need is kept beside the pixels: the bit depth (8 or 16;
16-bit files are read at full depth and written back as 16-bit PNGs) and the
alpha channel, which by default stays out of the fit and is passed through:

    x, info = load_input(path, size=64, multiple=8)    # one input of a run
    save_png(out_path, restored, bits=info.bits, alpha=info.alpha)

Complex images (data.complex) are stored as real/imaginary channel pairs,
`[H, W, 2C]` float32 for C complex channels (`to_complex`, `from_complex`):
the layout the models emit and the operators take. They come from complex
`.npy` arrays or from real images as magnitudes, times a synthetic phase
(data.phase, `PHASES`):

    x, info = load_input('gt_complex.npy', size=0, complex_valued=True)
    z = to_complex(x)                                   # complex [H, W, C]
"""

import dataclasses
import os
import tempfile
from typing import Sequence

from absl import logging
import numpy as np

from dd_jax.errors import UserError
from dd_jax.io import png

IMAGE_EXTENSIONS = ('.png', '.jpg', '.jpeg', '.tif', '.tiff', '.bmp', '.webp')
# Images in scikit-image's wheel (no download needed).
BUILTIN_IMAGES = ('astronaut', 'camera', 'coffee', 'chelsea', 'rocket',
                  'immunohistochemistry', 'hubble_deep_field', 'retina', 'moon',
                  'brick', 'grass', 'gravel', 'coins', 'cat', 'page', 'text',
                  'shepp_logan')
CHANNEL_MODES = {'auto': None, 'gray': 1, 'rgb': 3, 'rgba': 4}
# data.alpha: what happens to an alpha channel (gray+alpha, RGBA).
ALPHA_MODES = {
    'keep': 'kept out of the fit and passed through into the outputs',
    'fit': 'fitted like a colour channel',
    'drop': 'dropped: the outputs have no alpha',
}
# An image upscaled more than this to data.size gets a warning.
MAX_UPSCALE = 2.0


@dataclasses.dataclass(frozen=True)
class ImageInfo:
  """What writing an input's outputs back needs.

  source: where the image came from.
  bits: 8 or 16, the depth of the file (16 for 16-bit and float files); PNG
    outputs are written at this depth.
  alpha: float32 `[H, W, 1]` passed through into the outputs (data.alpha=
    'keep'), or None.
  """
  source: str
  bits: int = 8
  alpha: np.ndarray | None = dataclasses.field(default=None, repr=False,
                                               compare=False)


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


def _bits(arr: np.ndarray) -> int:
  """8 for 8-bit and binary pixels, 16 for 16-bit and float ones."""
  return 8 if arr.dtype in (np.uint8, np.bool_) else 16


# Pillow modes read as they are; others are converted to RGB(A).
_NATIVE_MODES = ('1', 'L', 'LA', 'RGB', 'RGBA', 'I;16', 'I;16B', 'I;16L',
                 'I', 'F')


def _read_pillow(path: str) -> np.ndarray:
  from PIL import Image
  with Image.open(path) as im:
    mode = im.mode
    if mode not in _NATIVE_MODES:
      alpha = 'transparency' in im.info or 'A' in mode
      target = 'RGBA' if alpha else 'RGB'
      _say(f'{path}: {"palette" if mode == "P" else mode} image converted '
           f'to {target}.')
      im = im.convert(target)
    arr = np.asarray(im)
  if mode.startswith('I') and arr.dtype != np.uint16 and (
      arr.size == 0 or 0 <= arr.min() <= arr.max() < 65536):
    arr = arr.astype(np.uint16)
  return arr


def _read_tiff(path: str) -> np.ndarray:
  """The first page at full depth (Pillow reads 16-bit RGB TIFF as 8 bit)."""
  import tifffile  # scikit-image's dependency.
  with tifffile.TiffFile(path) as tif:
    page = tif.pages[0]
    arr = page.asarray()
    if page.axes.startswith('S'):  # planar: samples first
      arr = np.moveaxis(arr, 0, -1)
  return arr


def _read_any(path: str) -> np.ndarray:
  """16-bit PNG: png.read; TIFF: tifffile (then Pillow); others: Pillow."""
  if png.bit_depth(path) == 16:
    return png.read(path)
  if path.lower().endswith(('.tif', '.tiff')):
    try:
      return _read_tiff(path)
    except Exception:  # pylint: disable=broad-except
      pass  # Pillow reads what tifffile does not (e.g. JPEG-compressed).
  return _read_pillow(path)


def _read_file(path: str) -> np.ndarray:
  """A file's pixels as stored (uint8 / uint16 / bool / float)."""
  try:
    return _read_any(path)
  except FileNotFoundError:
    raise UserError(f'Image file not found: {path!r}.') from None
  except IsADirectoryError:
    raise UserError(f'{path!r} is a folder, not an image file.') from None
  except PermissionError:
    raise UserError(f'Cannot read image {path!r}: permission denied.') from None
  except (OSError, SyntaxError, ValueError, png.PNGError) as e:
    from PIL import UnidentifiedImageError
    why = (str(e).splitlines() or [type(e).__name__])[0]
    if isinstance(e, UnidentifiedImageError):
      why = 'not an image file dd_jax can decode'
    raise UserError(f'Cannot read image {path!r}: {why}; give a PNG, JPEG, '
                    f'TIFF, BMP or WebP file.') from None


def _builtin(name: str) -> np.ndarray:
  import skimage.data  # Ships the images in its wheel.
  if name == 'shepp_logan':  # float in [0, 1], 400x400
    return np.clip(skimage.data.shepp_logan_phantom(), 0, 1).astype(np.float32)
  return np.asarray(getattr(skimage.data, name)())


def load_image(source: str, channels: str = 'auto', *,
               with_info: bool = False):
  """Loads one image as float32 `[H, W, C]`; C from the file (alpha
  included: gray+alpha is 2 channels, RGBA 4) unless `channels`. With
  `with_info`, returns `(image, ImageInfo)` (the file's bit depth)."""
  if os.path.isfile(source):
    arr = _read_file(source)
  elif source in BUILTIN_IMAGES:
    arr = _builtin(source)
  elif os.path.isdir(source):
    raise UserError(f'{source!r} is a folder; give it to data.images (all '
                    f'its images) or name one file in it.')
  else:
    raise UserError(
        f'Image not found: {source!r} is neither a file nor a built-in image '
        f'name; give a path or one of {", ".join(BUILTIN_IMAGES)}.')
  img = _to_float(arr, source)
  if img.ndim == 2:
    img = img[..., None]
  if img.ndim != 3 or img.shape[2] not in (1, 2, 3, 4) or 0 in img.shape:
    raise UserError(f'{source}: unsupported image shape {arr.shape}; expected '
                    f'[H, W] or [H, W, C] with C = 1..4.')
  img = convert_channels(img, channels, source)
  return (img, ImageInfo(source, _bits(arr))) if with_info else img


def has_alpha(img: np.ndarray) -> bool:
  """Whether `[H, W, C]` carries alpha: gray+alpha (C=2) or RGBA (C=4)."""
  return img.ndim == 3 and img.shape[2] in (2, 4)


def convert_channels(img: np.ndarray, channels: str, name: str) -> np.ndarray:
  """Converts `[H, W, C]` to the channel count `channels` asks for, loudly
  (alpha, when there is one, is kept for 'rgba' and dropped otherwise)."""
  if channels not in CHANNEL_MODES:
    raise UserError(f'Unknown data.channels {channels!r}; choose one of '
                    f'{list(CHANNEL_MODES)}.')
  want = CHANNEL_MODES[channels]
  have = img.shape[2]
  if want is None or want == have:
    return img
  _say(f'{name}: converted {have} -> {want} channels (data.channels='
       f'{channels}).')
  color = img[..., :have - 1] if has_alpha(img) else img
  rgb = color if color.shape[2] == 3 else np.repeat(color, 3, axis=2)
  if want == 1:
    if color.shape[2] == 1:
      return color
    return (rgb @ np.array([0.2125, 0.7154, 0.0721], np.float32))[..., None]
  if want == 3:
    return rgb
  alpha = img[..., -1:] if has_alpha(img) else np.ones_like(img[..., :1])
  return np.concatenate([rgb, alpha], axis=2)


def check_alpha_mode(alpha: str) -> str:
  if alpha not in ALPHA_MODES:
    raise UserError(f'Unknown data.alpha {alpha!r}; choose one of '
                    + ', '.join(f'{k!r} ({v})' for k, v in ALPHA_MODES.items())
                    + '.')
  return alpha


def split_alpha(img: np.ndarray, mode: str = 'keep', name: str = 'image'):
  """`(pixels to fit, alpha to pass through or None)` of `[H, W, C]`.

  mode (data.alpha): 'keep' fits the colour channels and returns the alpha
  `[H, W, 1]` for the outputs; 'fit' fits alpha like a colour (nothing
  returned); 'drop' fits the colours and forgets the alpha. Images without
  alpha come back as they are."""
  check_alpha_mode(mode)
  if not has_alpha(img) or mode == 'fit':
    return img, None
  _say(f'{name}: alpha channel {ALPHA_MODES[mode]} (data.alpha={mode}).')
  return img[..., :-1], (img[..., -1:] if mode == 'keep' else None)


def attach_alpha(img: np.ndarray, alpha: np.ndarray | None) -> np.ndarray:
  """`[H, W, C]` with `alpha` `[h, w, 1]` appended (resized to H x W when
  the sides differ, e.g. a super-resolved output)."""
  if alpha is None:
    return img
  img = np.asarray(img, np.float32)
  alpha = np.asarray(alpha, np.float32).reshape(*np.shape(alpha)[:2], 1)
  if img.ndim == 2:
    img = img[..., None]
  if alpha.shape[:2] != img.shape[:2]:
    alpha = resize(alpha, img.shape[:2])
  return np.concatenate([img, alpha], axis=2)


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


def _path_parts(source: str) -> tuple[str, ...]:
  """A file's absolute path without extension, split; a name as it is."""
  if not os.path.isfile(source):
    return (source,)
  stem = os.path.splitext(os.path.abspath(source))[0]
  parts = tuple(p for p in stem.split(os.sep) if p)
  return parts or ('image',)


def _deepen(names: dict, depth: dict) -> bool:
  """One step: colliding names take one more parent folder (those using the
  fewest folders first). False when nothing could change."""
  groups = {}
  for parts, name in names.items():
    groups.setdefault(name.lower(), []).append(parts)
  changed = False
  for keys in (g for g in groups.values() if len(g) > 1):
    can = [k for k in keys if depth[k] < len(k)]
    fewest = min((depth[k] for k in can), default=0)
    for k in (k for k in can if depth[k] == fewest):
      depth[k] += 1
      changed = True
  return changed


def unique_names(sources: Sequence[str]) -> list[str]:
  """Output names of `sources`, unique (also ignoring case) and stable: the
  file stem (`img`); stems that collide take their parent folders until
  they differ (`d1/img.png`, `d2/img.png` -> `d1_img`, `d2_img`); the same
  file twice (or names that still collide) get `_2`, `_3`, ... on a name no
  other input has."""
  depth = dict.fromkeys((_path_parts(s) for s in sources), 1)
  join = lambda p: '_'.join(p[-depth[p]:])
  names = {p: join(p) for p in depth}
  while _deepen(names, depth):
    names = {p: join(p) for p in depth}
  taken, out = set(), []
  reserved = {n.lower() for n in names.values()}
  for s in sources:
    name = names[_path_parts(s)]
    if name.lower() in taken:
      i = 2
      while f'{name}_{i}'.lower() in taken | reserved:
        i += 1
      name = f'{name}_{i}'
    taken.add(name.lower())
    out.append(name)
  return out


def resize(img: np.ndarray, hw: tuple[int, int], *,
           clip: bool = True) -> np.ndarray:
  """Antialiased resize (Lanczos-3) of `[H, W, C]` to `hw`, clipped to
  [0, 1] unless `clip` is False (channel pairs of a complex image)."""
  import jax
  import jax.numpy as jnp
  out = np.asarray(jax.image.resize(jnp.asarray(img), (*hw, img.shape[2]),
                                    'lanczos3', antialias=True))
  return np.clip(out, 0.0, 1.0) if clip else out


def center_crop(img: np.ndarray, hw: tuple[int, int]) -> np.ndarray:
  h, w = img.shape[:2]
  top, left = (h - hw[0]) // 2, (w - hw[1]) // 2
  return img[top:top + hw[0], left:left + hw[1]]


def check_size(size: int, multiple: int = 1):
  """Raises unless `size` (data.size) is 0 (keep the size) or a side of at
  least `multiple`, the multiple the model and operator need."""
  if int(size) < 0:
    raise UserError(f"data.size must be 0 (keep each image's size) or a "
                    f"positive side, got {size}.")
  if 0 < int(size) < multiple:
    raise UserError(
        f'data.size={size} is below the smallest side the model takes, '
        f'{multiple} (set by model.depth and the operator); set data.size '
        f'to a multiple of {multiple} or lower model.depth.')


def _resize_square(img, size: int, name: str, clip: bool = True):
  """Centre-crops to a square and resizes to size x size, warning when an
  image is upscaled more than MAX_UPSCALE times."""
  h, w = img.shape[:2]
  if h != w:
    side = min(h, w)
    _say(f'{name}: {h}x{w} centre-cropped to {side}x{side} for data.size.')
    img = center_crop(img, (side, side))
  side = img.shape[0]
  if side == size:
    return img
  if size > MAX_UPSCALE * side:
    logging.warning(
        '[data] %s: %dx%d upscaled %.1fx to %dx%d (data.size=%d): the fit '
        'sees interpolated pixels; data.size=0 keeps the size.', name, side,
        side, size / side, size, size, size)
  return resize(img, (size, size), clip=clip)


def fit_size(img: np.ndarray, size: int, multiple: int, name: str,
             crop: bool = True, *, clip: bool = True) -> np.ndarray:
  """Resizes to `size` x `size` (0 keeps the size) and crops the sides down to
  a multiple of `multiple`, saying so; raises when cropping is off or the
  image is smaller than `multiple`. clip: see `resize`."""
  size = int(size)
  check_size(size, multiple)
  if size:
    img = _resize_square(img, size, name, clip)
  h, w = img.shape[:2]
  hw = (h - h % multiple, w - w % multiple)
  if hw != (h, w):
    if img.ndim > 3:
      raise UserError(f'{name}: k-space of size {h}x{w} is not a multiple of '
                      f'{multiple} and cannot be cropped; lower model.depth.')
    if min(hw) == 0:
      raise UserError(
          f'{name}: {h}x{w} is smaller than the smallest side the model '
          f'takes, {multiple} (set by model.depth and the operator); lower '
          f'model.depth or use a larger image (data.size={multiple} or more '
          f'resizes data.images).')
    if not crop:
      raise UserError(
          f'{name}: size {h}x{w} is not a multiple of {multiple} (2^(d-1) '
          f'times the operator factor); set data.crop=True to centre-crop it '
          f'to {hw[0]}x{hw[1]}, or resize it.')
    _say(f'{name}: {h}x{w} centre-cropped to {hw[0]}x{hw[1]} (multiple of '
         f'{multiple}).')
    img = center_crop(img, hw)
  return img


def _observed(m: np.ndarray) -> np.ndarray:
  """Mask pixels `[H, W(, C)]` -> bool `[H, W]`: a colour channel nonzero
  and, with alpha (gray+alpha, RGBA), not transparent."""
  m = m.reshape(m.shape[0], m.shape[1], -1)
  if m.shape[2] in (2, 4):
    return (m[..., :-1].max(axis=2) > 0) & (m[..., -1] > 0)
  return m.max(axis=2) > 0


def load_mask(path: str, hw: tuple[int, int]) -> np.ndarray:
  """A mask image as bool `[H, W]`, nonzero (any colour channel; alpha,
  when there is one, must be nonzero too) = observed; centre-cropped to
  `hw`. Raises when it observes nothing."""
  if not os.path.isfile(path):
    raise UserError(
        f"Mask file not found: {path!r}. operator.mask.kind takes 'random', "
        f"'block', 'text', 'auto_text' or a path to a mask image.")
  m = _observed(_read_file(path))
  cropped = m.shape != tuple(hw)
  if cropped:
    if m.shape[0] < hw[0] or m.shape[1] < hw[1]:
      raise UserError(f'Mask {path!r} ({m.shape[0]}x{m.shape[1]}) is smaller '
                      f'than the image ({hw[0]}x{hw[1]}).')
    _say(f'{path}: mask {m.shape[0]}x{m.shape[1]} centre-cropped to the '
         f'image, {hw[0]}x{hw[1]}.')
    m = center_crop(m, hw)
  if not m.any():
    raise UserError(
        f'Mask {path!r} observes no pixel{" in its centre crop" * cropped}: '
        f'it is all zero (or transparent); nonzero pixels are observed, so '
        f'paint the pixels to keep white.')
  return m


def to_uint(img: np.ndarray, bits: int = 8) -> np.ndarray:
  """Floats in [0, 1] -> uint8 / uint16 (NaN -> 0); `[H, W, 1]` -> `[H, W]`."""
  if bits not in (8, 16):
    raise ValueError(f'PNG bit depth must be 8 or 16, got {bits}.')
  top = 2 ** bits - 1
  img = np.nan_to_num(np.asarray(img, np.float32), nan=0.0)
  out = np.round(np.clip(img, 0, 1) * top).astype(
      np.uint8 if bits == 8 else np.uint16)
  return out[..., 0] if out.ndim == 3 and out.shape[-1] == 1 else out


def to_uint8(img: np.ndarray) -> np.ndarray:
  return to_uint(img, 8)


def write_atomic(path: str, data: bytes):
  """Writes `data` to a temporary file beside `path`, then renames it."""
  folder = os.path.dirname(os.path.abspath(path))
  fd, tmp = tempfile.mkstemp(dir=folder, prefix='.' + os.path.basename(path),
                             suffix='.tmp')
  try:
    with os.fdopen(fd, 'wb') as f:
      f.write(data)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)  # mkstemp's 0600 would hide the output
    os.replace(tmp, path)
  except BaseException:
    if os.path.exists(tmp):
      os.remove(tmp)
    raise


def save_png(path: str, img: np.ndarray, *, bits: int = 8,
             alpha: np.ndarray | None = None):
  """Writes `[H, W, C]` (C = 1..4) in [0, 1] as an 8- or 16-bit PNG, with
  `alpha` `[h, w, 1]` appended (see attach_alpha), atomically."""
  arr = to_uint(attach_alpha(img, alpha), bits)
  if bits == 16:
    data = png.encode(arr)
  else:
    import imageio.v3 as iio
    data = iio.imwrite('<bytes>', arr, extension='.png')
  write_atomic(path, data)


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


def load_measurement(source: str, channels: str = 'auto', *,
                     with_info: bool = False):
  """A given measurement: an image (see load_image) or a .npy array (e.g.
  MRI k-space; complex values become a trailing real/imag axis, and a 2-D
  complex array one channel: `[H, W] -> [H, W, 1, 2]`). With `with_info`,
  returns `(measurement, ImageInfo)` (arrays count as 16 bit)."""
  if not source.lower().endswith('.npy'):
    return load_image(source, channels, with_info=with_info)
  try:
    arr = np.load(source)
    if np.iscomplexobj(arr):
      if arr.ndim == 2:
        arr = arr[..., None]
      arr = np.stack([arr.real, arr.imag], -1)
      _say(f'{source}: complex array stored as real/imag, shape {arr.shape}.')
    arr = arr.astype(np.float32)
  except (OSError, ValueError, TypeError) as e:
    raise UserError(f'Cannot read measurement {source!r}: '
                    f'{str(e).splitlines()[0]}') from None
  if not np.all(np.isfinite(arr)):
    raise UserError(f'{source}: the measurement holds NaN or infinite values.')
  return (arr, ImageInfo(source, 16)) if with_info else arr


def check_settings(*, size: int = 0, multiple: int = 1,
                   channels: str = 'auto', alpha: str = 'keep',
                   complex_valued: bool = False, phase: str = 'none'):
  """The data section's checks that need no file (data.size, channels,
  alpha, complex, phase): for validating a config before anything is loaded
  or written."""
  check_size(size, multiple)
  if channels not in CHANNEL_MODES:
    raise UserError(f'Unknown data.channels {channels!r}; choose one of '
                    f'{list(CHANNEL_MODES)}.')
  check_alpha_mode(alpha)
  if not isinstance(complex_valued, bool):
    raise UserError(f'data.complex must be True or False, got '
                    f'{complex_valued!r}.')
  if phase not in PHASES:
    raise UserError(f'Unknown data.phase {phase!r}; choose one of '
                    f'{list(PHASES)}.')
  if phase != 'none' and not complex_valued:
    raise UserError(f'data.phase={phase!r} makes complex images; it needs '
                    f'data.complex=True.')


def load_input(source: str, *, channels: str = 'auto', size: int = 0,
               multiple: int = 1, crop: bool = True, alpha: str = 'keep',
               measurement: bool = False, complex_valued: bool = False,
               phase: str = 'none'):
  """One input of a run, ready to fit: `(pixels, ImageInfo)`.

  Loads `source` (load_image; load_measurement when `measurement`), fits
  its size (fit_size: `size` x `size`, 0 keeps it; sides cut to a multiple
  of `multiple`) and splits off its alpha (split_alpha with mode `alpha`;
  the alpha lands in `info.alpha`). Arrays (.npy) are never split.
  complex_valued (a clean image, not a measurement): the complex image as
  channel pairs `[H, W, 2C]` (`load_complex_input`), times exp(i `phase`)."""
  check_settings(size=size, multiple=multiple, channels=channels, alpha=alpha,
                 complex_valued=complex_valued, phase=phase)
  if complex_valued and not measurement:
    return load_complex_input(source, channels=channels, size=size,
                              multiple=multiple, crop=crop, alpha=alpha,
                              phase=phase)
  load = load_measurement if measurement else load_image
  x, info = load(source, channels, with_info=True)
  x = fit_size(x, size, multiple, source, crop)
  if source.lower().endswith('.npy'):
    return x, info
  x, kept = split_alpha(x, alpha, source)
  return x, dataclasses.replace(info, alpha=kept)


# ------------------------------------------------------------ complex images
def to_complex(x):
  """Channel pairs `[..., 2C]` (real, imaginary) -> complex `[..., C]`, for
  numpy and jax arrays: channel 2c is the real part of complex channel c,
  2c + 1 its imaginary part."""
  return x[..., 0::2] + 1j * x[..., 1::2]


def from_complex(z) -> np.ndarray:
  """Complex (or real) `[H, W, C]` -> float32 channel pairs `[H, W, 2C]`,
  the inverse of `to_complex`."""
  z = np.asarray(z)
  pairs = np.stack([z.real, z.imag], -1)
  return pairs.reshape(*z.shape[:-1], 2 * z.shape[-1]).astype(np.float32)


def smooth_phase(hw) -> np.ndarray:
  """A smooth synthetic phase `[H, W]` in radians, within (-pi, pi): a tilt
  across the image plus an off-centre bump."""
  yy, xx = np.meshgrid(np.linspace(-1, 1, hw[0]), np.linspace(-1, 1, hw[1]),
                       indexing='ij')
  bump = np.exp(-((xx - 0.2) ** 2 + (yy + 0.1) ** 2) / 0.2)
  return np.pi * (0.4 * xx + 0.3 * yy + 0.25 * bump)


# data.phase: the phase (radians, [H, W]) each complex image is multiplied
# by, exp(i phase): 'none' keeps it (a real image stays real).
PHASES = {
    'none': lambda hw: np.zeros(hw),
    'smooth': smooth_phase,
}


def load_complex(source: str, *, with_info: bool = False):
  """A complex `.npy` image as complex64 `[H, W, C]` (`[H, W]` is one
  channel; a real array has phase 0); its magnitude must be at most 1 (the
  range PSNR on the magnitude assumes). With `with_info`, returns
  `(image, ImageInfo)` (arrays count as 16 bit)."""
  try:
    z = np.load(source)
  except FileNotFoundError:
    raise UserError(f'Image file not found: {source!r}.') from None
  except (OSError, ValueError, TypeError) as e:
    raise UserError(f'Cannot read complex image {source!r}: '
                    f'{str(e).splitlines()[0]}') from None
  if not np.issubdtype(z.dtype, np.number):
    raise UserError(f'{source}: unsupported array type {z.dtype}; give a '
                    f'complex (or real) float array.')
  if z.ndim == 2:
    z = z[..., None]
  if z.ndim != 3 or 0 in z.shape:
    raise UserError(f'{source}: complex image of shape {list(z.shape)}; '
                    f'expected [H, W] or [H, W, C].')
  z = z.astype(np.complex64)
  if not np.all(np.isfinite(z)):
    raise UserError(f'{source}: the image holds NaN or infinite values.')
  top = float(np.abs(z).max())
  if top > 1 + 1e-6:
    raise UserError(f'{source}: complex image with magnitude up to {top:.3g};'
                    f' divide it by its largest magnitude so |x| <= 1.')
  return (z, ImageInfo(source, 16)) if with_info else z


def clip_magnitude(z: np.ndarray) -> np.ndarray:
  """Complex `z` with magnitudes above 1 scaled down to 1 (phase kept)."""
  mag = np.abs(z)
  return np.where(mag > 1, z / np.maximum(mag, 1e-30), z).astype(z.dtype)


def load_complex_input(source: str, *, channels: str = 'auto', size: int = 0,
                       multiple: int = 1, crop: bool = True,
                       alpha: str = 'keep', phase: str = 'none'):
  """A complex image ready to fit, `(channel pairs [H, W, 2C], ImageInfo)`:
  a `.npy` array (`load_complex`), or an image file or built-in name whose
  pixels are the magnitude (`load_input`: its alpha is split off as
  usual); sizes fitted as `fit_size` (real and imaginary parts resized,
  magnitudes then clipped to 1), then multiplied by exp(i PHASES[phase])."""
  if source.lower().endswith('.npy'):
    z, info = load_complex(source, with_info=True)
    x = fit_size(from_complex(z), size, multiple, source, crop, clip=False)
    z = clip_magnitude(to_complex(x))
  else:
    z, info = load_input(source, channels=channels, size=size,
                         multiple=multiple, crop=crop, alpha=alpha)
  phi = PHASES[phase](z.shape[:2])
  if phase != 'none':
    _say(f'{source}: multiplied by exp(i phase), data.phase={phase}.')
  return from_complex(z * np.exp(1j * phi)[..., None]), info
