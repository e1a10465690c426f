"""Realistic camera noise on sRGB images (numpy, host side): for tests and
for the synthetic real-noise pairs of experiments/real_noise.

  noisy = camera_noise(rng, srgb, a=0.004, b=0.004, bayer=True,
                       jpeg_quality=90)            # uint8 [H, W, 3]
  noisy, mean = camera_pair(rng, srgb, ...)        # with its noise-free shot
  records = write_pairs(folder, ['astronaut'], size=128, seed=0)

A crude camera pipeline, in the order a camera applies it:
  1. sRGB -> linear RGB (the standard sRGB transfer function, IEC 61966-2-1);
  2. bayer: keep one colour per photosite (an RGGB mosaic);
  3. signal-dependent Poisson-Gaussian noise on the linear values, the usual
     heteroscedastic Gaussian approximation: variance a * x + b^2 (a: the
     shot-noise gain, b: the read-noise std, both in linear [0, 1] units);
     clipped to [0, 1] (sensor saturation, black level);
  4. bayer: bilinear demosaicing, which spreads each photosite's noise over
     its neighbours (spatially correlated noise), then the camera's colour
     correction matrix (`CCM`, camera RGB -> linear sRGB; the inverse made
     the camera's RGB before step 2), which mixes the channels' noise
     (channel-correlated noise);
  5. linear -> sRGB gamma, 8-bit quantization;
  6. jpeg_quality: JPEG compression through Pillow (None: lossless, PNG).

`camera_pair` also returns the noise-free shot: the same pipeline without
step 3 and without JPEG (what the mean of many shots approximates, like the
PolyU benchmark's `*_mean` images), so noisy - mean is the noise alone.
"""

import io
import os
from typing import Sequence

import numpy as np
from scipy import ndimage

from dd_jax.errors import UserError

# RGGB: the colour (0 R, 1 G, 2 B) of the photosite at (row % 2, col % 2).
RGGB = np.array([[0, 1], [1, 2]])
_G_KERNEL = np.array([[0, 1, 0], [1, 4, 1], [0, 1, 0]], np.float64) / 4
_RB_KERNEL = np.array([[1, 2, 1], [2, 4, 2], [1, 2, 1]], np.float64) / 4
# A typical camera's colour correction matrix (camera RGB -> linear sRGB;
# rows sum to 1, so grey stays grey): its negative off-diagonal entries mix
# each photosite's noise into the other channels.
CCM = np.array([[1.6, -0.5, -0.1],
                [-0.2, 1.5, -0.3],
                [0.0, -0.5, 1.5]])


def srgb_to_linear(x) -> np.ndarray:
  """The sRGB transfer function's inverse, on values in [0, 1] (float64)."""
  x = np.clip(np.asarray(x, np.float64), 0.0, 1.0)
  return np.where(x <= 0.04045, x / 12.92, ((x + 0.055) / 1.055) ** 2.4)


def linear_to_srgb(x) -> np.ndarray:
  """The sRGB transfer function, on linear values in [0, 1] (float64)."""
  x = np.clip(np.asarray(x, np.float64), 0.0, 1.0)
  return np.where(x <= 0.0031308, 12.92 * x,
                  1.055 * x ** (1 / 2.4) - 0.055)


def _rng(rng) -> np.random.Generator:
  """A numpy Generator from a Generator, an int seed or a jax PRNG key."""
  if isinstance(rng, np.random.Generator):
    return rng
  if isinstance(rng, (int, np.integer)):
    return np.random.default_rng(int(rng))
  import jax
  data = rng
  if jax.dtypes.issubdtype(getattr(rng, 'dtype', None), jax.dtypes.prng_key):
    data = jax.random.key_data(rng)
  return np.random.default_rng(np.asarray(data, np.uint32).ravel().tolist())


def bayer_masks(hw) -> np.ndarray:
  """`[H, W, 3]` bool: which colour each photosite of an RGGB mosaic keeps."""
  h, w = hw
  colour = RGGB[np.arange(h)[:, None] % 2, np.arange(w)[None, :] % 2]
  return colour[..., None] == np.arange(3)


def mosaic(linear: np.ndarray) -> np.ndarray:
  """`[H, W, 3]` -> `[H, W]`: each photosite's colour of an RGGB mosaic."""
  return np.sum(linear * bayer_masks(linear.shape[:2]), axis=-1)


def demosaic(raw: np.ndarray) -> np.ndarray:
  """Bilinear demosaicing of an RGGB mosaic `[H, W]` -> `[H, W, 3]`: each
  missing colour is the mean of its nearest photosites of that colour
  (mirrored borders keep the mosaic's parity)."""
  masks = bayer_masks(raw.shape)
  planes = []
  for c, kernel in enumerate((_RB_KERNEL, _G_KERNEL, _RB_KERNEL)):
    planes.append(ndimage.convolve(raw * masks[..., c], kernel,
                                   mode='mirror'))
  return np.stack(planes, -1)


def _check(srgb, a, b, jpeg_quality) -> np.ndarray:
  x = np.asarray(srgb)
  if x.dtype == np.uint8:
    x = x.astype(np.float64) / 255
  x = np.asarray(x, np.float64)
  if x.ndim != 3 or x.shape[2] != 3:
    raise UserError(f'camera noise takes an RGB image [H, W, 3], got shape '
                    f'{list(x.shape)}.')
  check_settings(a=a, b=b, jpeg_quality=jpeg_quality)
  return x


def check_settings(*, a: float, b: float, jpeg_quality: int | None):
  """The camera's settings, checked (UserError)."""
  if not (np.isfinite(a) and a >= 0 and np.isfinite(b) and b >= 0):
    raise UserError(f'camera noise: a (shot gain) and b (read std) must be '
                    f'>= 0, got a={a}, b={b}.')
  if jpeg_quality is not None and not 1 <= int(jpeg_quality) <= 100:
    raise UserError(f'camera noise: jpeg_quality must be in 1..100 or None '
                    f'(PNG), got {jpeg_quality}.')


def jpeg_bytes(img: np.ndarray, quality: int) -> bytes:
  """uint8 `[H, W, 3]` -> a JPEG file's bytes (Pillow; full-resolution
  chroma, 4:4:4, so the colour of a demosaiced image is not halved)."""
  from PIL import Image
  buf = io.BytesIO()
  Image.fromarray(img, 'RGB').save(buf, format='JPEG', quality=int(quality),
                                   subsampling=0)
  return buf.getvalue()


def decode(data: bytes) -> np.ndarray:
  """Image file bytes (JPEG, PNG) -> uint8 `[H, W, 3]`."""
  from PIL import Image
  return np.asarray(Image.open(io.BytesIO(data)).convert('RGB'))


def _to_8bit(linear: np.ndarray) -> np.ndarray:
  return np.round(linear_to_srgb(linear) * 255).astype(np.uint8)


def _shot(gen, x, a, b, bayer):
  """(noisy, noise-free) uint8 shots of the float sRGB `x`, before JPEG."""
  linear = srgb_to_linear(x)
  if bayer:  # What the sensor sees: the camera's RGB, one colour per site.
    signal = mosaic(np.clip(linear @ np.linalg.inv(CCM).T, 0.0, 1.0))
  else:
    signal = linear
  std = np.sqrt(a * np.maximum(signal, 0.0) + b * b)
  raw = np.clip(signal + std * gen.standard_normal(signal.shape), 0.0, 1.0)
  if bayer:
    develop = lambda r: np.clip(demosaic(r) @ CCM.T, 0.0, 1.0)
  else:
    develop = lambda r: r
  return _to_8bit(develop(raw)), _to_8bit(develop(signal))


def camera_pair(rng, srgb, *, a: float = 0.004, b: float = 0.004,
                bayer: bool = True, jpeg_quality: int | None = None,
                as_float: bool = False):
  """`(noisy, mean)`: one noisy shot of the sRGB image `srgb` (`[H, W, 3]`,
  floats in [0, 1] or uint8) through the module's camera pipeline, and the
  noise-free shot (the same pipeline without noise or JPEG). uint8, or
  float32 in [0, 1] with `as_float`. rng: a numpy Generator, an int seed or
  a jax PRNG key."""
  x = _check(srgb, a, b, jpeg_quality)
  noisy, mean = _shot(_rng(rng), x, a, b, bayer)
  if jpeg_quality is not None:
    noisy = decode(jpeg_bytes(noisy, jpeg_quality))
  if as_float:
    return noisy.astype(np.float32) / 255, mean.astype(np.float32) / 255
  return noisy, mean


def camera_noise(rng, srgb, *, a: float = 0.004, b: float = 0.004,
                 bayer: bool = True, jpeg_quality: int | None = None,
                 as_float: bool = False) -> np.ndarray:
  """One noisy shot of `srgb` (see `camera_pair`): uint8 `[H, W, 3]`, or
  float32 in [0, 1] with `as_float`."""
  return camera_pair(rng, srgb, a=a, b=b, bayer=bayer,
                     jpeg_quality=jpeg_quality, as_float=as_float)[0]


def write_pairs(folder: str, images: Sequence[str], *, size: int = 0,
                seed: int = 0, a: float = 0.004, b: float = 0.004,
                bayer: bool = True, jpeg_quality: int | None = None
                ) -> list[dict]:
  """Writes `<scene>_real.png` (`.jpg` with `jpeg_quality`) and
  `<scene>_mean.png` for each image of `images` (files or built-in names,
  made RGB, resized to size x size unless 0) into `folder` (created), the
  PolyU benchmark's naming (pair them with data.pair='*_real.<ext>:*_mean.png').
  Image i draws its noise from seed + i. Returns one record per scene:
  scene, real, mean (paths), true_std (the std of noisy - mean, [0, 1]
  units, over all pixels and channels)."""
  from dd_jax.io import images as data_lib
  os.makedirs(folder, exist_ok=True)
  ext = 'png' if jpeg_quality is None else 'jpg'
  names = data_lib.unique_names(list(images))
  out = []
  for i, (name, source) in enumerate(zip(names, images)):
    x = data_lib.load_image(source, 'rgb')
    x = data_lib.fit_size(x, int(size), 1, source)
    x = _check(x, a, b, jpeg_quality)
    noisy, mean = _shot(np.random.default_rng(seed + i), x, a, b, bayer)
    real_path = os.path.join(folder, f'{name}_real.{ext}')
    mean_path = os.path.join(folder, f'{name}_mean.png')
    if jpeg_quality is None:
      data_lib.save_png(real_path, noisy.astype(np.float32) / 255)
    else:  # The camera's own JPEG file, and what a reader decodes of it.
      data = jpeg_bytes(noisy, jpeg_quality)
      data_lib.write_atomic(real_path, data)
      noisy = decode(data)
    data_lib.save_png(mean_path, mean.astype(np.float32) / 255)
    diff = noisy.astype(np.float64) / 255 - mean.astype(np.float64) / 255
    out.append(dict(scene=name, real=real_path, mean=mean_path,
                    true_std=float(diff.std())))
  return out


def estimate_noise_std(y) -> float:
  """The noise std of one noisy image `[H, W, C]` (floats in [0, 1] or
  uint8), in [0, 1] units, from the image alone: scikit-image's wavelet
  estimate (`restoration.estimate_sigma`, the median absolute deviation of
  the finest diagonal wavelet band, Donoho's robust estimator) averaged over
  the channels. It assumes white Gaussian noise: spatially correlated noise
  (demosaiced, JPEG-compressed) has less energy in that band than its std
  says, so it reads low there."""
  from skimage.restoration import estimate_sigma
  y = np.asarray(y)
  y = y.astype(np.float64) / 255 if y.dtype == np.uint8 else np.asarray(
      y, np.float64)
  if y.ndim == 2:
    y = y[..., None]
  return float(estimate_sigma(y, channel_axis=-1, average_sigmas=True))
