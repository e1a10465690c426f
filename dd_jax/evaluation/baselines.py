"""Classical baselines on ONE image `[H, W, C]` float32 in [0, 1] (numpy).

  bm3d_denoise(y, sigma)                 BM3D (gray) / CBM3D (RGB), PyPI `bm3d`
  upsample(y, factor, 'bicubic')         bicubic or Lanczos interpolation (PIL)
  inpaint_biharmonic(y, mask)            scikit-image's biharmonic inpainting
  wavelet_keep_n(x, n, 'bior4.4')        keep the n largest wavelet coefficients
  wavelet_reference(x, n)                the deep decoder paper's Haar baseline
  least_squares(op, y, aux)              CG on the normal equations, any operator
                                         (jax, jit/vmap-able)

Looked up by name in `DENOISERS`, `UPSAMPLERS`, `INPAINTERS` and
`WAVELET_CODERS`. The
optional packages (`pip install dd_jax[baselines]`: bm3d, PyWavelets) are
imported on first use and a missing one raises a UserError naming it.
"""

from typing import Callable
import warnings

import jax
import jax.numpy as jnp
import numpy as np

from dd_jax.errors import UserError


def _require(module: str, package: str):
  import importlib
  try:
    return importlib.import_module(module)
  except ImportError:
    raise UserError(f'This baseline needs the `{package}` package: pip install '
                    f'{package} (or pip install dd_jax[baselines]).') from None


# ------------------------------------------------------------------ denoising
def bm3d_denoise(y: np.ndarray, sigma: float) -> np.ndarray:
  """BM3D with the package's default profile and the true noise std `sigma`
  (in [0, 1] units). RGB uses CBM3D (bm3d_rgb, opponent colour space); gray
  and other channel counts denoise each channel on its own."""
  bm3d = _require('bm3d', 'bm3d')
  y = np.asarray(y, np.float64)
  if y.shape[2] == 3:
    out = bm3d.bm3d_rgb(y, sigma)
  else:
    out = np.stack([bm3d.bm3d(y[..., c], sigma) for c in range(y.shape[2])],
                   -1)
  return np.clip(np.asarray(out, np.float32).reshape(y.shape), 0.0, 1.0)


DENOISERS: dict[str, Callable[[np.ndarray, float], np.ndarray]] = {
    'bm3d': bm3d_denoise,
}


# ---------------------------------------------------------- super-resolution
_PIL_FILTERS = {'bicubic': 'BICUBIC', 'lanczos': 'LANCZOS',
                'bilinear': 'BILINEAR', 'nearest': 'NEAREST'}


def upsample(y: np.ndarray, factor: int, method: str = 'bicubic') -> np.ndarray:
  """Interpolates `[h, w, C]` to `[h * factor, w * factor, C]` with PIL's
  float ('F' mode) resampling, channel by channel, clipped to [0, 1]."""
  from PIL import Image
  if method not in _PIL_FILTERS:
    raise UserError(f'Unknown upsampling method {method!r}; choose one of '
                    f'{sorted(_PIL_FILTERS)}.')
  filt = getattr(Image.Resampling, _PIL_FILTERS[method])
  h, w, c = y.shape
  planes = [np.asarray(Image.fromarray(np.asarray(y[..., i], np.float32), 'F')
                       .resize((w * factor, h * factor), filt))
            for i in range(c)]
  return np.clip(np.stack(planes, -1), 0.0, 1.0).astype(np.float32)


UPSAMPLERS = {name: (lambda y, f, m=name: upsample(y, f, m))
              for name in ('bicubic', 'lanczos')}


# ----------------------------------------------------------------- inpainting
def inpaint_biharmonic(y: np.ndarray, mask: np.ndarray) -> np.ndarray:
  """scikit-image's biharmonic inpainting of the pixels where `mask [H, W]`
  is False (unobserved)."""
  from skimage.restoration import inpaint_biharmonic as biharmonic
  out = biharmonic(np.asarray(y, np.float64), ~np.asarray(mask, bool),
                   channel_axis=-1)
  return np.clip(out, 0.0, 1.0).astype(np.float32)


INPAINTERS = {'biharmonic': inpaint_biharmonic}


# ------------------------------------------------------ any linear operator
def least_squares(op, y, aux, *, iters: int = 100, damping: float = 1e-3):
  """argmin ||A x - y||^2 + damping ||x||^2 for an `inverse.base.Operator`,
  by conjugate gradients on the normal equations from x = 0 (the min-norm
  solution as damping -> 0). Pure jax: jit and vmap it."""
  ata = lambda v: op.adjoint(op.forward(v, aux), aux) + damping * v
  x, _ = jax.scipy.sparse.linalg.cg(ata, op.adjoint(y, aux),
                                    x0=jnp.zeros(op.image_shape), maxiter=iters)
  return x


# --------------------------------------------------------------- compression
def rgb_to_ycbcr(x: np.ndarray) -> np.ndarray:
  """ITU-R BT.601 full-range YCbCr (JPEG), all three channels in [0, 1]."""
  m = np.array([[0.299, 0.587, 0.114], [-0.168736, -0.331264, 0.5],
                [0.5, -0.418688, -0.081312]])
  out = x.astype(np.float64) @ m.T
  out[..., 1:] += 0.5
  return out


def ycbcr_to_rgb(x: np.ndarray) -> np.ndarray:
  m = np.array([[0.299, 0.587, 0.114], [-0.168736, -0.331264, 0.5],
                [0.5, -0.418688, -0.081312]])
  x = x.astype(np.float64).copy()
  x[..., 1:] -= 0.5
  return x @ np.linalg.inv(m).T


def wavelet_keep_n(x: np.ndarray, n: int, wavelet: str = 'bior4.4',
                   ycbcr: bool = True, levels: int | None = None) -> np.ndarray:
  """Keeps the `n` largest-magnitude wavelet coefficients of the whole image
  (all channels compete for the same budget; approximation coefficients
  included) and reconstructs. `levels` defaults to a coarsest band of
  about 4 x 4. Periodized transform, so an H x W channel has
  exactly H * W coefficients; RGB is coded in YCbCr when `ycbcr`."""
  pywt = _require('pywt', 'PyWavelets')
  x = np.asarray(x, np.float64)
  rgb = x.shape[2] == 3 and ycbcr
  planes = rgb_to_ycbcr(x) if rgb else x
  mode = 'periodization'
  if levels is None:  # Down to a coarsest side of about 4 (periodized).
    levels = max(int(np.log2(min(x.shape[:2]))) - 2, 1)
  arrays, slices = [], []
  for c in range(planes.shape[2]):
    with warnings.catch_warnings():  # Boundary effects are fine: periodic.
      warnings.simplefilter('ignore', UserWarning)
      coeffs = pywt.wavedec2(planes[..., c], wavelet, mode=mode, level=levels)
    arr, sl = pywt.coeffs_to_array(coeffs)
    arrays.append(arr)
    slices.append(sl)
  flat = np.concatenate([a.ravel() for a in arrays])
  if n < flat.size:
    thresh = np.partition(np.abs(flat), flat.size - n)[flat.size - n]
    keep = np.abs(flat) >= thresh
    # Ties at the threshold: keep exactly n.
    extra = keep.sum() - n
    if extra > 0:
      tied = np.flatnonzero(np.abs(flat) == thresh)
      keep[tied[:extra]] = False
    flat = np.where(keep, flat, 0.0)
  out, start = [], 0
  for arr, sl in zip(arrays, slices):
    part = flat[start:start + arr.size].reshape(arr.shape)
    start += arr.size
    coeffs = pywt.array_to_coeffs(part, sl, output_format='wavedec2')
    out.append(pywt.waverec2(coeffs, wavelet, mode=mode)[:x.shape[0],
                                                          :x.shape[1]])
  out = np.stack(out, -1)
  if rgb:
    out = ycbcr_to_rgb(out)
  return np.clip(out, 0.0, 1.0).astype(np.float32)


def wavelet_reference(x: np.ndarray, n: int, wavelet: str = 'haar'
                      ) -> np.ndarray:
  """The deep decoder paper's wavelet baseline (Fig. 1, REFERENCE.md sec. 3):
  each channel (YCbCr for RGB, each channel rescaled to [0, 1]) keeps n / C
  coefficients: all approximation coefficients plus the largest detail
  coefficients (hard threshold), `max_level - 3` levels, symmetric borders."""
  pywt = _require('pywt', 'PyWavelets')
  x = np.asarray(x, np.float64)
  rgb = x.shape[2] == 3
  planes = rgb_to_ycbcr(x) if rgb else x
  per = n // x.shape[2]
  w = pywt.Wavelet(wavelet)
  levels = max(min(pywt.dwt_max_level(s, w.dec_len) for s in x.shape[:2]) - 3,
               1)
  out = []
  for c in range(planes.shape[2]):
    p = planes[..., c]
    lo, hi = p.min(), p.max()
    p = (p - lo) / max(hi - lo, 1e-12)
    coeffs = pywt.wavedec2(p, w, level=levels)
    details = np.sort(np.concatenate(
        [np.abs(d).ravel() for lvl in coeffs[1:] for d in lvl]))
    budget = per - coeffs[0].size
    if budget <= 0:
      raise UserError(f'Wavelet budget {per} per channel is below the '
                      f'{coeffs[0].size} approximation coefficients.')
    t = details[-budget] if budget <= details.size else 0.0
    coeffs = [coeffs[0]] + [tuple(pywt.threshold(d, t, 'hard') for d in lvl)
                            for lvl in coeffs[1:]]
    rec = pywt.waverec2(coeffs, w)[:x.shape[0], :x.shape[1]]
    out.append(rec * (hi - lo) + lo)
  out = np.stack(out, -1)
  if rgb:
    out = ycbcr_to_rgb(out)
  return np.clip(out, 0.0, 1.0).astype(np.float32)


WAVELET_CODERS = {
    'haar_reference': lambda x, n: wavelet_reference(x, n, 'haar'),
    'bior4.4_ycbcr': lambda x, n: wavelet_keep_n(x, n, 'bior4.4', True),
    'haar_keep_n': lambda x, n: wavelet_keep_n(x, n, 'haar', True),
}


def get(registry: dict, name: str, what: str):
  if name not in registry:
    raise UserError(f'Unknown {what} {name!r}; choose one of '
                    f'{sorted(registry)}.')
  return registry[name]
