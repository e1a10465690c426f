"""Lossless coders for the codec's quantized symbols (integers in [0, 2^b)).

Every coder maps a list of 1-D integer arrays (one per tensor, with its bit
depth) to bytes and back; the decoder knows each array's length and depth
from the file header, so the payload stores neither.

  raw    bit-packing, b bits per symbol (the no-entropy-coding baseline)
  zlib   zlib level 9 on one byte (two for b > 8) per symbol
  lzma   raw LZMA2 stream (no container header), preset 9 | extreme
  arith  adaptive arithmetic coding, one adaptive frequency model per bit
         depth, shared by the tensors of that depth in file order (every
         tensor is scaled to its own min..max, so their symbol histograms
         look alike); integer-only, so coder and decoder agree anywhere

`CODERS` is the registry; `get_coder(name)` validates the name.
"""

import lzma
import zlib
from typing import Callable, NamedTuple, Sequence

import numpy as np

from dd_jax.errors import UserError

Symbols = Sequence[np.ndarray]


# ---------------------------------------------------------------- byte-based
def _to_bytes(symbols: Symbols, bits: Sequence[int]) -> bytes:
  return b''.join(
      np.asarray(s, '<u2' if b > 8 else np.uint8).tobytes()
      for s, b in zip(symbols, bits))


def _from_bytes(data: bytes, bits, counts) -> list[np.ndarray]:
  out, pos = [], 0
  for b, n in zip(bits, counts):
    dt = np.dtype('<u2' if b > 8 else np.uint8)
    size = n * dt.itemsize
    if pos + size > len(data):
      raise UserError('The .ddz payload is shorter than its header says; the '
                      'file is damaged.')
    out.append(np.frombuffer(data, dt, n, pos).astype(np.int64))
    pos += size
  return out


def _raw_encode(symbols, bits):
  planes = [((np.asarray(s, np.int64)[:, None] >> np.arange(b - 1, -1, -1))
             & 1).reshape(-1) for s, b in zip(symbols, bits)]
  return np.packbits(np.concatenate(planes).astype(np.uint8)).tobytes()


def _raw_decode(data, bits, counts):
  stream = np.unpackbits(np.frombuffer(data, np.uint8))
  out, pos = [], 0
  for b, n in zip(bits, counts):
    if pos + n * b > stream.size:
      raise UserError('The .ddz payload is shorter than its header says; the '
                      'file is damaged.')
    plane = stream[pos:pos + n * b].reshape(n, b).astype(np.int64)
    out.append(plane @ (1 << np.arange(b - 1, -1, -1)))
    pos += n * b
  return out


_LZMA_FILTERS = [{'id': lzma.FILTER_LZMA2, 'preset': 9 | lzma.PRESET_EXTREME}]


def _lzma_encode(symbols, bits):
  return lzma.compress(_to_bytes(symbols, bits), format=lzma.FORMAT_RAW,
                       filters=_LZMA_FILTERS)


def _lzma_decode(data, bits, counts):
  try:
    raw = lzma.decompress(data, format=lzma.FORMAT_RAW, filters=_LZMA_FILTERS)
  except lzma.LZMAError as e:
    raise UserError(f'The .ddz payload does not decompress ({e}).') from None
  return _from_bytes(raw, bits, counts)


def _zlib_decode(data, bits, counts):
  try:
    raw = zlib.decompress(data)
  except zlib.error as e:
    raise UserError(f'The .ddz payload does not decompress ({e}).') from None
  return _from_bytes(raw, bits, counts)


# ------------------------------------------------------ arithmetic coding
_TOP = 32
_FULL = (1 << _TOP) - 1
_HALF = 1 << (_TOP - 1)
_QUARTER = 1 << (_TOP - 2)


class AdaptiveModel:
  """Adaptive symbol frequencies over [0, n) in a Fenwick tree.

  Every count starts at 1; a coded symbol's count grows by `increment`; when
  the total exceeds `limit` all counts are halved (rounding up, so none is 0).
  """

  def __init__(self, n: int, increment: int = 8, limit: int = 1 << 16):
    self.n, self.increment = n, increment
    self.limit = max(limit, 4 * n)
    self.freq = [1] * n
    self._rebuild()

  def _rebuild(self):
    n = self.n
    tree = [0] * (n + 1)
    for i, f in enumerate(self.freq, start=1):
      tree[i] += f
      j = i + (i & -i)
      if j <= n:
        tree[j] += tree[i]
    self.tree, self.total = tree, sum(self.freq)
    self.top = 1 << (n.bit_length() - 1)

  def cum(self, s: int) -> int:
    """Sum of the counts of symbols < s."""
    total, tree = 0, self.tree
    while s > 0:
      total += tree[s]
      s &= s - 1
    return total

  def find(self, target: int) -> int:
    """The symbol s with cum(s) <= target < cum(s + 1)."""
    pos, bit, tree, n = 0, self.top, self.tree, self.n
    while bit:
      nxt = pos + bit
      if nxt <= n and tree[nxt] <= target:
        pos = nxt
        target -= tree[nxt]
      bit >>= 1
    return pos

  def update(self, s: int):
    self.freq[s] += self.increment
    self.total += self.increment
    if self.total > self.limit:
      self.freq = [(f + 1) // 2 for f in self.freq]
      self._rebuild()
      return
    i, tree, n, inc = s + 1, self.tree, self.n, self.increment
    while i <= n:
      tree[i] += inc
      i += i & -i


def _arith_encode(symbols, bits):
  out = []
  emit = out.append
  low, high, pending = 0, _FULL, 0
  models = {}
  for syms, b in zip(symbols, bits):
    model = models.setdefault(b, AdaptiveModel(1 << b))
    for s in np.asarray(syms).tolist():
      span = high - low + 1
      total, c_lo = model.total, model.cum(s)
      high = low + span * (c_lo + model.freq[s]) // total - 1
      low = low + span * c_lo // total
      while True:
        if high < _HALF:
          emit(0)
          out.extend([1] * pending)
          pending = 0
        elif low >= _HALF:
          emit(1)
          out.extend([0] * pending)
          pending = 0
          low -= _HALF
          high -= _HALF
        elif low >= _QUARTER and high < _HALF + _QUARTER:
          pending += 1
          low -= _QUARTER
          high -= _QUARTER
        else:
          break
        low <<= 1
        high = (high << 1) | 1
      model.update(s)
  pending += 1
  if low < _QUARTER:
    emit(0)
    out.extend([1] * pending)
  else:
    emit(1)
    out.extend([0] * pending)
  return np.packbits(np.asarray(out, np.uint8)).tobytes()


def _arith_decode(data, bits, counts):
  stream = np.unpackbits(np.frombuffer(data, np.uint8)).tolist()
  size = len(stream)
  pos = min(_TOP, size)
  value = 0
  for i in range(_TOP):
    value = (value << 1) | (stream[i] if i < size else 0)
  low, high = 0, _FULL
  out, models = [], {}
  for b, n in zip(bits, counts):
    model = models.setdefault(b, AdaptiveModel(1 << b))
    syms = [0] * n
    for j in range(n):
      span = high - low + 1
      total = model.total
      target = ((value - low + 1) * total - 1) // span
      if not 0 <= target < total:
        raise UserError('The .ddz payload is not a valid arithmetic-coded '
                        'stream; the file is damaged.')
      s = model.find(target)
      c_lo = model.cum(s)
      high = low + span * (c_lo + model.freq[s]) // total - 1
      low = low + span * c_lo // total
      while True:
        if high < _HALF:
          pass
        elif low >= _HALF:
          value -= _HALF
          low -= _HALF
          high -= _HALF
        elif low >= _QUARTER and high < _HALF + _QUARTER:
          value -= _QUARTER
          low -= _QUARTER
          high -= _QUARTER
        else:
          break
        low <<= 1
        high = (high << 1) | 1
        value = (value << 1) | (stream[pos] if pos < size else 0)
        pos += 1
      model.update(s)
      syms[j] = s
    out.append(np.asarray(syms, np.int64))
  if pos > size + _TOP:
    raise UserError('The .ddz payload is shorter than its header says; the '
                    'file is damaged.')
  return out


# ------------------------------------------------------------------ registry
class Coder(NamedTuple):
  id: int                       # Stored in the file header.
  encode: Callable[[Symbols, Sequence[int]], bytes]
  decode: Callable[[bytes, Sequence[int], Sequence[int]], list]


CODERS: dict[str, Coder] = {
    'raw': Coder(0, _raw_encode, _raw_decode),
    'zlib': Coder(1, lambda s, b: zlib.compress(_to_bytes(s, b), 9),
                  _zlib_decode),
    'lzma': Coder(2, _lzma_encode, _lzma_decode),
    'arith': Coder(3, _arith_encode, _arith_decode),
}
CODER_BY_ID = {c.id: name for name, c in CODERS.items()}


def get_coder(name: str) -> Coder:
  if name not in CODERS:
    raise UserError(f'Unknown entropy coder {name!r}; choose one of '
                    f'{sorted(CODERS) + ["auto"]}.')
  return CODERS[name]


def encode_best(symbols: Symbols, bits: Sequence[int],
                names: Sequence[str] = ('raw', 'zlib', 'lzma', 'arith')
                ) -> tuple[str, bytes]:
  """Encodes with every coder in `names`; returns the shortest (name, bytes)."""
  best = None
  for name in names:
    data = get_coder(name).encode(symbols, bits)
    if best is None or len(data) < len(best[1]):
      best = (name, data)
  return best
