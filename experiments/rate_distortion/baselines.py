"""Reference codecs at measured bytes, and the Bjontegaard delta rate.

Each codec function takes one `[H, W, C]` float image in [0, 1] and a quality
knob, and returns (bytes, decoded image). Bytes are the real file size (Pillow
writes to memory); the wavelet codec's bytes are its LZMA-coded quantized
coefficients plus a 16-byte header, so positions are paid for.
"""

import io
import lzma

import numpy as np
from PIL import Image

from dd_jax.io import images as data_lib


def _pil(img):
  arr = data_lib.to_uint8(img)
  return Image.fromarray(arr)


def _back(im, channels):
  arr = np.asarray(im).astype(np.float32) / 255.0
  if arr.ndim == 2:
    arr = arr[..., None]
  return arr[..., :channels]


def pillow_codec(img, fmt: str, **kw):
  buf = io.BytesIO()
  _pil(img).save(buf, format=fmt, **kw)
  size = buf.tell()
  buf.seek(0)
  with Image.open(buf) as im:
    im.load()
    return size, _back(im, img.shape[2])


def jpeg(img, quality):
  return pillow_codec(img, 'JPEG', quality=int(quality), optimize=True)


def webp(img, quality):
  return pillow_codec(img, 'WEBP', quality=int(quality), method=6)


def jpeg2000(img, bpp):
  """OpenJPEG via Pillow, raw codestream (no JP2 box), irreversible 9/7,
  with the irreversible colour transform for RGB (Pillow's default is none,
  which costs 2-4 dB on RGB images)."""
  bits = 8 * img.shape[2]
  return pillow_codec(img, 'JPEG2000', quality_mode='rates',
                      quality_layers=[bits / bpp], irreversible=True,
                      no_jp2=True, mct=int(img.shape[2] == 3))


# ------------------------------------------------------------- wavelets
_YCC = np.array([[0.299, 0.587, 0.114], [-0.168736, -0.331264, 0.5],
                 [0.5, -0.418688, -0.081312]])


def _to_ycc(img):
  return img @ _YCC.T if img.shape[2] == 3 else img


def _from_ycc(img):
  return img @ np.linalg.inv(_YCC).T if img.shape[2] == 3 else img


def wavelet_keep_n(img, n_keep: int, step_ratio: float = 0.5,
                   wavelet: str = 'bior4.4', level: int = 4):
  """Keeps the n largest bior4.4 coefficients (YCbCr, over all channels),
  quantizes them with step = step_ratio * threshold, codes them with LZMA.

  Returns (bytes, decoded, unquantized-decoded): the last is the paper-style
  keep-N image (positions and values free), for the parameter-count view.
  """
  import pywt
  ycc = _to_ycc(img.astype(np.float64))
  arrs, slices = [], None
  for c in range(ycc.shape[2]):
    coeffs = pywt.wavedec2(ycc[..., c], wavelet, mode='periodization',
                           level=level)
    arr, slices = pywt.coeffs_to_array(coeffs)
    arrs.append(arr)
  a = np.stack(arrs)
  flat = np.abs(a).ravel()
  n_keep = int(min(n_keep, flat.size))
  thresh = np.partition(flat, flat.size - n_keep)[flat.size - n_keep]
  kept = np.where(np.abs(a) >= thresh, a, 0.0)
  step = step_ratio * thresh
  q = np.where(kept != 0, np.sign(kept) * np.maximum(
      np.rint(np.abs(kept) / step), 1), 0).astype(np.int64)
  if np.abs(q).max() >= 2 ** 15:
    raise ValueError('step too small for int16 coefficients')
  payload = lzma.compress(q.astype('<i2').tobytes(), format=lzma.FORMAT_RAW,
                          filters=[{'id': lzma.FILTER_LZMA2,
                                    'preset': 9 | lzma.PRESET_EXTREME}])
  nbytes = len(payload) + 16   # shape, level, step (float32), wavelet id

  def recon(coef):
    out = []
    for c in range(coef.shape[0]):
      cs = pywt.array_to_coeffs(coef[c], slices, output_format='wavedec2')
      out.append(pywt.waverec2(cs, wavelet, mode='periodization'))
    rgb = _from_ycc(np.stack(out, -1))
    return np.clip(rgb, 0, 1).astype(np.float32)

  return nbytes, recon(q * np.float32(step)), recon(kept)


# ------------------------------------------------------------------ metrics
def pareto(points):
  """(rate, quality) pairs: the upper-left front, sorted by rate."""
  out, best = [], -np.inf
  for r, q in sorted(points):
    if q > best:
      out.append((r, q))
      best = q
  return out


def bd_rate(rate_ref, psnr_ref, rate_test, psnr_test) -> float:
  """Bjontegaard delta rate in percent (negative: test needs fewer bits).

  Cubic fits of log(rate) vs PSNR, integrated over the common PSNR range
  (VCEG-M33). Needs >= 4 points per curve; nan without overlap.
  """
  lr1, lr2 = np.log(rate_ref), np.log(rate_test)
  p1, p2 = np.asarray(psnr_ref, float), np.asarray(psnr_test, float)
  deg1, deg2 = min(3, len(p1) - 1), min(3, len(p2) - 1)
  if min(deg1, deg2) < 1:
    return float('nan')
  lo, hi = max(p1.min(), p2.min()), min(p1.max(), p2.max())
  if hi <= lo:
    return float('nan')
  c1, c2 = np.polyfit(p1, lr1, deg1), np.polyfit(p2, lr2, deg2)
  i1, i2 = np.polyint(c1), np.polyint(c2)
  avg1 = (np.polyval(i1, hi) - np.polyval(i1, lo)) / (hi - lo)
  avg2 = (np.polyval(i2, hi) - np.polyval(i2, lo)) / (hi - lo)
  return float((np.exp(avg2 - avg1) - 1) * 100)


def bd_psnr(rate_ref, psnr_ref, rate_test, psnr_test) -> float:
  """Bjontegaard delta PSNR in dB (positive: test is better at equal rate)."""
  lr1, lr2 = np.log(rate_ref), np.log(rate_test)
  deg1, deg2 = min(3, len(lr1) - 1), min(3, len(lr2) - 1)
  if min(deg1, deg2) < 1:
    return float('nan')
  lo, hi = max(lr1.min(), lr2.min()), min(lr1.max(), lr2.max())
  if hi <= lo:
    return float('nan')
  c1, c2 = np.polyfit(lr1, psnr_ref, deg1), np.polyfit(lr2, psnr_test, deg2)
  i1, i2 = np.polyint(c1), np.polyint(c2)
  return float(((np.polyval(i2, hi) - np.polyval(i2, lo))
                - (np.polyval(i1, hi) - np.polyval(i1, lo))) / (hi - lo))

