"""8- and 16-bit PNG in numpy (zlib and the five PNG row filters).

Pillow reads only 16-bit gray at full depth (16-bit RGB, RGBA and gray+alpha
come back as 8 bit) and writes none of them, so dd_jax reads and writes
16-bit PNGs here:

    bits = png.bit_depth(path)     # None when the file is not a PNG
    arr = png.read(path)           # uint8 / uint16 [H, W, C], C = 1..4
    data = png.encode(arr)         # bytes of a PNG file
"""

import struct
import zlib

import numpy as np

SIGNATURE = b'\x89PNG\r\n\x1a\n'
# Colour type -> samples per pixel (gray, RGB, gray+alpha, RGBA; no palette).
CHANNELS = {0: 1, 2: 3, 4: 2, 6: 4}
COLOR_TYPES = {c: t for t, c in CHANNELS.items()}
# Adam7 passes: (first row, first column, row step, column step).
# Larger images are refused (Pillow's decompression-bomb limit is 179M).
MAX_PIXELS = 2**28
ADAM7 = ((0, 0, 8, 8), (0, 4, 8, 8), (4, 0, 8, 4), (0, 2, 4, 4),
         (2, 0, 4, 2), (0, 1, 2, 2), (1, 0, 2, 1))


class PNGError(ValueError):
  """A file this module cannot decode (not a PNG, corrupt, unsupported)."""


def bit_depth(path: str) -> int | None:
  """The bit depth in the PNG header of `path`; None when not a PNG."""
  with open(path, 'rb') as f:
    head = f.read(29)
  if len(head) < 29 or head[:8] != SIGNATURE or head[12:16] != b'IHDR':
    return None
  return head[24]


def _chunks(data: bytes):
  """(type, body) of each chunk, CRCs checked."""
  pos = len(SIGNATURE)
  while pos + 12 <= len(data):
    (n,) = struct.unpack('>I', data[pos:pos + 4])
    if pos + 12 + n > len(data):
      break
    kind, body = data[pos + 4:pos + 8], data[pos + 8:pos + 8 + n]
    (crc,) = struct.unpack('>I', data[pos + 8 + n:pos + 12 + n])
    if zlib.crc32(kind + body) != crc:
      raise PNGError('corrupt PNG (bad chunk checksum)')
    yield kind, body
    if kind == b'IEND':
      return
    pos += 12 + n
  raise PNGError('truncated PNG (no IEND chunk)')


def _paeth(a, b, c):
  p = a + b - c
  pa, pb, pc = np.abs(p - a), np.abs(p - b), np.abs(p - c)
  return np.where((pa <= pb) & (pa <= pc), a, np.where(pb <= pc, b, c))


def _predictions(a, b, c):
  """The five filters' predictions of a byte from its left (a), upper (b)
  and upper-left (c) neighbours: None, Sub, Up, Average, Paeth."""
  return (np.zeros_like(a), a, b, (a + b) // 2, _paeth(a, b, c))


def _unfilter_band(f, kinds, prev):
  """Rows `f` `[B, W, bpp]` (int16) below the decoded row `prev` `[W, bpp]`.

  Skewed so that pixel (j, i) sits at `s[i + j + 2, j + 1]` (`s[:, 0]` is
  `prev`): its left, upper and upper-left neighbours are then in the two
  slices before it, and each slice (an anti-diagonal) is one numpy step."""
  rows, w, bpp = f.shape
  s = np.zeros((w + rows + 2, rows + 1, bpp), np.int16)
  fs = np.zeros_like(s)
  s[1:w + 1, 0] = prev
  for j in range(rows):
    fs[j + 2:j + 2 + w, j + 1] = f[j]
  kind = kinds[:, None]
  for k in range(2, w + rows + 1):
    lo, hi = max(0, k - 1 - w), min(rows, k - 1)  # rows j with 0 <= i < w
    a, b, c = s[k - 1, lo + 1:hi + 1], s[k - 1, lo:hi], s[k - 2, lo:hi]
    pred = np.choose(kind[lo:hi], _predictions(a, b, c))
    s[k, lo + 1:hi + 1] = (fs[k, lo + 1:hi + 1] + pred) & 255
  return np.stack([s[j + 2:j + 2 + w, j + 1] for j in range(rows)])


def unfilter(rows: np.ndarray, bpp: int, band: int = 0) -> np.ndarray:
  """Undoes the row filters: `rows` uint8 `[H, 1 + W * bpp]` (filter byte
  first) -> uint8 `[H, W, bpp]`, `band` rows at a time (0: about 2^24 bytes
  and at most max(W, 256) rows, as a band's work array grows with W + rows)."""
  h, w = rows.shape[0], (rows.shape[1] - 1) // bpp
  band = band or max(16, min(2**24 // rows.shape[1], max(w, 256)))
  kinds = rows[:, 0].astype(np.int16)
  if h and kinds.max() > 4:
    raise PNGError(f'corrupt PNG (unknown row filter {kinds.max()})')
  f = rows[:, 1:].reshape(h, -1, bpp).astype(np.int16)
  out = np.zeros(f.shape, np.int16)
  prev = np.zeros(f.shape[1:], np.int16)
  for r in range(0, h, band):
    out[r:r + band] = _unfilter_band(f[r:r + band], kinds[r:r + band], prev)
    prev = out[min(r + band, h) - 1]
  return out.astype(np.uint8)


def _decode_image(raw: bytes, h: int, w: int, c: int, bits: int):
  """`raw` (inflated) -> `[h, w, c]` samples, non-interlaced."""
  bpp = c * bits // 8
  rows = np.frombuffer(raw, np.uint8, h * (1 + w * bpp)).reshape(h, -1)
  pixels = unfilter(rows, bpp)
  if bits == 16:
    return pixels.view('>u2').astype(np.uint16).reshape(h, w, c)
  return pixels.reshape(h, w, c)


def _decode_adam7(raw: bytes, h: int, w: int, c: int, bits: int):
  out = np.zeros((h, w, c), np.uint16 if bits == 16 else np.uint8)
  pos, bpp = 0, c * bits // 8
  for r0, c0, dr, dc in ADAM7:
    ph, pw = -(-(h - r0) // dr), -(-(w - c0) // dc)
    if ph <= 0 or pw <= 0:
      continue
    n = ph * (1 + pw * bpp)
    out[r0::dr, c0::dc] = _decode_image(raw[pos:pos + n], ph, pw, c, bits)
    pos += n
  return out


def read(path: str) -> np.ndarray:
  """An 8- or 16-bit PNG (gray, gray+alpha, RGB, RGBA) as uint8 / uint16
  `[H, W, C]`; raises PNGError for palettes, < 8 bits and broken files."""
  with open(path, 'rb') as f:
    data = f.read()
  if data[:8] != SIGNATURE:
    raise PNGError('not a PNG file')
  header, idat = None, []
  for kind, body in _chunks(data):
    if kind == b'IHDR':
      header = struct.unpack('>IIBBBBB', body[:13])
    elif kind == b'IDAT':
      idat.append(body)
  if header is None:
    raise PNGError('corrupt PNG (no IHDR chunk)')
  w, h, bits, color, _, _, interlace = header
  if bits not in (8, 16) or color not in CHANNELS:
    raise PNGError(f'PNG with {bits}-bit colour type {color} is read by '
                   f'Pillow, not here')
  if not 0 < h * w <= MAX_PIXELS:
    raise PNGError(f'{w}x{h} PNG: not 1 to {MAX_PIXELS} pixels')
  c = CHANNELS[color]
  need = (sum(-(-(h - r0) // dr) * (1 + -(-(w - c0) // dc) * c * bits // 8)
              for r0, c0, dr, dc in ADAM7 if h > r0 and w > c0)
          if interlace else h * (1 + w * c * bits // 8))
  try:  # At most `need` bytes: a small file cannot fill the memory.
    raw = zlib.decompressobj().decompress(b''.join(idat), need)
  except zlib.error:
    raise PNGError('truncated or corrupt PNG (image data)') from None
  if len(raw) < need:
    raise PNGError('truncated PNG (image data too short)')
  decode = _decode_adam7 if interlace else _decode_image
  return decode(raw, h, w, c, bits)


def _filter_rows(x: np.ndarray, bpp: int) -> np.ndarray:
  """Per row the filter with the smallest sum of |signed byte| (libpng's
  rule): `[H, N]` uint8 -> `[H, 1 + N]`."""
  x = x.astype(np.int16)
  a = np.pad(x, ((0, 0), (bpp, 0)))[:, :-bpp]
  b = np.pad(x, ((1, 0), (0, 0)))[:-1]
  c = np.pad(b, ((0, 0), (bpp, 0)))[:, :-bpp]
  cand = np.stack([(x - p) & 255 for p in _predictions(a, b, c)])
  cost = np.minimum(cand, 256 - cand).sum(axis=2)
  kind = np.argmin(cost, axis=0)
  rows = cand[kind, np.arange(x.shape[0])]
  return np.concatenate([kind[:, None], rows], 1).astype(np.uint8)


def _chunk(kind: bytes, body: bytes) -> bytes:
  return (struct.pack('>I', len(body)) + kind + body +
          struct.pack('>I', zlib.crc32(kind + body)))


def encode(arr: np.ndarray) -> bytes:
  """uint8 or uint16 `[H, W]` / `[H, W, C]` (C = 1..4) -> PNG file bytes."""
  arr = np.asarray(arr)
  if arr.ndim == 2:
    arr = arr[..., None]
  if arr.dtype not in (np.uint8, np.uint16) or arr.shape[2] not in COLOR_TYPES:
    raise ValueError(f'PNG needs uint8/uint16 [H, W, 1..4], got {arr.dtype} '
                     f'{arr.shape}')
  h, w, c = arr.shape
  bits = arr.dtype.itemsize * 8
  raw = arr.astype('>u2' if bits == 16 else np.uint8).view(np.uint8)
  rows = _filter_rows(raw.reshape(h, w * c * bits // 8), c * bits // 8)
  ihdr = struct.pack('>IIBBBBB', w, h, bits, COLOR_TYPES[c], 0, 0, 0)
  return (SIGNATURE + _chunk(b'IHDR', ihdr) +
          _chunk(b'IDAT', zlib.compress(rows.tobytes(), 6)) +
          _chunk(b'IEND', b''))
