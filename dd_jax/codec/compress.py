"""The deep decoder as an image codec: fit, quantize, serialize, decode.

    spec = codec_spec((256, 256, 3), k=32)           # a models.DeepDecoder
    params = fit_image(image, spec, seed=0, steps=2000)  # its 'params'
    bits = [6] * num_tensors(spec)                    # or allocate_bits(...)
    data = encode(params, spec, seed=0, bits=bits)    # the .ddz bytes
    image = decode(data)                              # [H, W, C] float32

The input B0 is regenerated from the stored seed as every fit makes it from
its key (`fitting.keys.split_fit_key(key)[1]` -> `model.init_input`), so it
costs no bits.

File format, version 1 (little-endian):

    4s   magic b'\\x89DDZ'
    u8   version (1)
    u8   entropy coder id (entropy.CODERS: raw 0, zlib 1, lzma 2, arith 3)
    u8   flags: bit0 upsample_first, bit1 norm_before_act, bit4 threefry
         partitionable, bits 2-3 upsampling (0 bilinear, 1 nearest, 2 none)
    u8   out channels C, u8 depth d, u16 x (d + 1) widths k_0..k_d
    u16  H, u16 W (the image; the decoder's output is padded up to a multiple
         of 2^(d-1) at the bottom/right and cropped back)
    f32  input scale, u32 seed
    per tensor (hidden[i].w, .gamma, .beta for i < d, then out.w):
         u8 bits b, f16 offset, f16 scale: value = offset + q * scale
    u32  payload length, payload (the symbols q, entropy coded)
    u32  CRC-32 of every byte before it

Determinism: symbols, tables and B0 are exact (integers, float16 tables,
threefry bits); the dequantized weights are float32 `offset + q * scale`
computed in numpy (IEEE, exact the same everywhere). The decoded image is
defined as the output of the jitted program `make_render` (XLA float32); for
one jax/jaxlib version and CPU it is bit-exact from run to run and process to
process (tested). Eager (unjitted) evaluation fuses differently and differs
by ~1e-6, so the codec always decodes through `make_render`. Across CPUs (other SIMD
width) or versions XLA may sum the 1x1 convolutions in another order, which
moves outputs by ~1e-7 and can flip an 8-bit pixel by one level where a value
sits on a rounding boundary.
"""

import dataclasses
import functools
import heapq
import math
import struct
import zlib
from typing import Any, Sequence

from absl import logging
import jax
import jax.numpy as jnp
import numpy as np

from dd_jax.codec import entropy
from dd_jax import models
from dd_jax.fitting import keys as keys_lib
from dd_jax.errors import UserError

MAGIC = b'\x89DDZ'
VERSION = 1
UPSAMPLE_IDS = {'bilinear': 0, 'nearest': 1, 'none': 2}
MAX_BITS = 16


# ------------------------------------------------------------- architecture
def padded_hw(hw: Sequence[int], depth: int, upsample: str = 'bilinear'):
  f = 1 if upsample == 'none' else 2 ** (depth - 1)
  return tuple(-(-int(s) // f) * f for s in hw)


def auto_depth(hw: Sequence[int], max_depth: int = 6, min_input: int = 8):
  """The paper's d = 6, less while the input B0 would be under min_input px."""
  d = max_depth
  while d > 2 and math.ceil(min(hw) / 2 ** (d - 1)) < min_input:
    d -= 1
  return d


def codec_spec(image_shape: Sequence[int], k: int, depth: int = 0,
               upsample: str = 'bilinear') -> models.DeepDecoder:
  """A decoder spec for an `[H, W, C]` image (output padded to fit the depth)."""
  if k < 1 or k > 65535:
    raise UserError(f'k must be in 1..65535, got {k}.')
  h, w, c = image_shape
  depth = depth or auto_depth((h, w))
  if upsample not in UPSAMPLE_IDS:
    raise UserError(f'Unknown upsampling {upsample!r}; choose one of '
                    f'{sorted(UPSAMPLE_IDS)}.')
  return models.DeepDecoder(channels=(int(k),) * (depth + 1),
                            out_channels=int(c),
                            output_hw=padded_hw((h, w), depth, upsample),
                            upsample=upsample)


def k_for_params(n: float, depth: int, out_channels: int) -> int:
  """Largest k with d k^2 + 2 d k + C k <= n (at least 1)."""
  a, b = depth, 2 * depth + out_channels
  return max(1, int((-b + math.sqrt(b * b + 4 * a * max(n, 0))) / (2 * a)))


def flatten(params) -> list[np.ndarray]:
  """Tensors in file order: hidden[i].w, .gamma, .beta, then out.w.

  params: the decoder's 'params' collection ({'layer_i': ..., 'out': ...}).
  """
  return [np.asarray(t, np.float32) for t in flatten_jax(params)]


def tensor_names(spec: models.DeepDecoder) -> list[str]:
  names = []
  for i in range(spec.depth):
    names += [f'hidden{i}.w', f'hidden{i}.gamma', f'hidden{i}.beta']
  return names + ['out.w']


def tensor_shapes(spec: models.DeepDecoder) -> list[tuple[int, ...]]:
  shapes, ks = [], spec.channels
  for i in range(spec.depth):
    shapes += [(ks[i], ks[i + 1]), (ks[i + 1],), (ks[i + 1],)]
  return shapes + [(ks[-1], spec.out_channels)]


def num_tensors(spec: models.DeepDecoder) -> int:
  return 3 * spec.depth + 1


def unflatten(tensors: Sequence[Any], spec: models.DeepDecoder):
  """The 'params' collection of tensors in file order (`flatten`'s inverse)."""
  params = {f'layer_{i}': {'w': tensors[3 * i], 'gamma': tensors[3 * i + 1],
                           'beta': tensors[3 * i + 2]}
            for i in range(spec.depth)}
  params['out'] = {'w': tensors[-1]}
  return params


def input_for_seed(seed: int, spec: models.DeepDecoder) -> jax.Array:
  """B0 as a fit draws it from the key of `seed` (keys.split_fit_key)."""
  key = jax.random.key(seed, impl='threefry2x32')
  return spec.init_input(keys_lib.split_fit_key(key)[1])


# ------------------------------------------------------------------- fitting
def fit_image(image: np.ndarray, spec: models.DeepDecoder, *, seed: int = 0,
              steps: int = 2000, lr: float = 0.01, schedule: str = 'cosine',
              log_every: int = 0, verbose: bool = False):
  """Fits the decoder to the clean `[H, W, C]` image; returns best params.

  The (possibly padded) output is cropped to the image for the loss.
  """
  import ml_collections
  from dd_jax import fitting as fit_lib
  h, w = image.shape[:2]
  optim = ml_collections.ConfigDict(dict(
      name='adam', lr=lr, b1=0.9, b2=0.999, eps=1e-8, schedule=schedule,
      final_ratio=0.02, decay_every=500, decay_rate=0.65, warmup_steps=100))
  fitc = ml_collections.ConfigDict(dict(
      steps=steps, log_every=log_every or steps, loss='mse',
      best_iterate=True, best_rel=0.0))
  keys = jax.random.key(seed, impl='threefry2x32')[None]
  result = fit_lib.fit(keys, spec, lambda x, aux: x[:h, :w],
                       jnp.asarray(image)[None], {}, optim_cfg=optim,
                       fit_cfg=fitc, verbose=verbose)
  if not result.alive[0]:
    logging.warning('[compress] the fit hit a non-finite loss; keeping its '
                    'best iterate. Lower --lr.')
  return jax.tree.map(lambda a: np.asarray(a[0]), result.best_params)


@functools.lru_cache(maxsize=16)
def make_render(spec: models.DeepDecoder, hw: tuple[int, int]):
  """A jitted `render(params, z) -> [H, W, C]` cropped to the image."""
  h, w = hw
  return jax.jit(lambda p, z: spec.apply({'params': p}, z)[:h, :w])


# --------------------------------------------------------------- quantizing
@dataclasses.dataclass(frozen=True)
class QTable:
  bits: int
  offset: np.float16
  scale: np.float16


def _f16_down(x: float) -> np.float16:
  v = np.float16(x)
  return v if float(v) <= x else np.nextafter(v, np.float16(-np.inf))


def _f16_up(x: float) -> np.float16:
  v = np.float16(x)
  return v if float(v) >= x else np.nextafter(v, np.float16(np.inf))


def quant_table(t: np.ndarray, bits: int) -> QTable:
  """Uniform b-bit grid offset + q * scale (float16) covering min..max of t."""
  if not 1 <= bits <= MAX_BITS:
    raise UserError(f'bits must be in 1..{MAX_BITS}, got {bits}.')
  lo, hi = float(np.min(t)), float(np.max(t))
  if max(abs(lo), abs(hi)) > 60000 or not math.isfinite(lo + hi):
    raise UserError('A fitted weight is too large or not finite to store; '
                    'refit with a lower --lr.')
  offset = _f16_down(lo)
  levels = 2 ** bits - 1
  scale = _f16_up((hi - float(offset)) / levels) if hi > offset else (
      np.float16(1.0))
  # float16 rounding of the offset can leave hi just outside; widen once.
  while float(offset) + levels * float(scale) < hi:
    scale = np.nextafter(scale, np.float16(np.inf))
  return QTable(bits, offset, scale)


def quantize(t: np.ndarray, table: QTable) -> np.ndarray:
  """Symbols q in [0, 2^b) (int64) nearest to t on the table's grid."""
  q = np.rint((np.asarray(t, np.float64) - float(table.offset))
              / float(table.scale))
  return np.clip(q, 0, 2 ** table.bits - 1).astype(np.int64)


def dequantize(q: np.ndarray, table: QTable, shape) -> np.ndarray:
  """float32 offset + q * scale (exact IEEE float32 arithmetic)."""
  return (np.float32(table.offset) + q.astype(np.float32)
          * np.float32(table.scale)).reshape(shape)


def quantize_params(params, spec, bits: Sequence[int]):
  """Returns (dequantized params, symbols, tables)."""
  tensors = flatten(params)
  if len(bits) != len(tensors):
    raise UserError(f'Need {len(tensors)} bit depths, got {len(bits)}.')
  tables = [quant_table(t, b) for t, b in zip(tensors, bits)]
  symbols = [quantize(t, tb).reshape(-1) for t, tb in zip(tensors, tables)]
  deq = [dequantize(q, tb, t.shape) for q, tb, t in zip(symbols, tables,
                                                          tensors)]
  return unflatten(deq, spec), symbols, tables


# ------------------------------------------------------------ serialization
def _flags(spec: models.DeepDecoder) -> int:
  return (int(spec.upsample_first) | int(spec.norm_before_act) << 1
          | UPSAMPLE_IDS[spec.upsample] << 2
          | int(bool(jax.config.jax_threefry_partitionable)) << 4)


def encode(params, spec: models.DeepDecoder, *, seed: int,
           bits: Sequence[int], image_hw: Sequence[int] | None = None,
           coder: str = 'auto') -> bytes:
  """The .ddz bytes of `params` quantized at `bits` (one depth per tensor)."""
  if not 0 <= seed < 2 ** 32:
    raise UserError(f'seed must be in [0, 2^32), got {seed}.')
  h, w = image_hw or spec.output_hw
  if padded_hw((h, w), spec.depth, spec.upsample) != tuple(spec.output_hw):
    raise UserError(f'Image size {h}x{w} does not match the decoder output '
                    f'{spec.output_hw}.')
  if max(h, w) > 65535 or max(spec.channels) > 65535:
    raise UserError('Image sides and widths must be below 65536.')
  _, symbols, tables = quantize_params(params, spec, bits)
  if coder == 'auto':
    coder, payload = entropy.encode_best(symbols, bits)
  else:
    payload = entropy.get_coder(coder).encode(symbols, bits)
  head = [MAGIC, struct.pack('<BBBBB', VERSION, entropy.get_coder(coder).id,
                             _flags(spec), spec.out_channels, spec.depth)]
  head.append(struct.pack(f'<{spec.depth + 1}H', *spec.channels))
  head.append(struct.pack('<HHfI', h, w, spec.input_scale, seed))
  for tb in tables:
    head.append(struct.pack('<B', tb.bits) + np.asarray(
        [tb.offset, tb.scale], '<f2').tobytes())
  head.append(struct.pack('<I', len(payload)))
  body = b''.join(head) + payload
  return body + struct.pack('<I', zlib.crc32(body))


@dataclasses.dataclass
class Decoded:
  spec: models.DeepDecoder
  image_hw: tuple[int, int]
  seed: int
  coder: str
  tables: list[QTable]
  params: Any


class _Reader:

  def __init__(self, data: bytes):
    self.data, self.pos = data, 0

  def take(self, fmt: str):
    size = struct.calcsize(fmt)
    if self.pos + size > len(self.data):
      raise UserError('The .ddz file is truncated (its header ends early).')
    out = struct.unpack_from(fmt, self.data, self.pos)
    self.pos += size
    return out


def parse(data: bytes) -> Decoded:
  """Checks and parses .ddz bytes into spec, tables and dequantized params."""
  if len(data) < 4 or data[:4] != MAGIC:
    raise UserError('Not a .ddz file (wrong magic bytes); give a file written '
                    'by `dd-jax compress`.')
  if len(data) < 5:
    raise UserError('The .ddz file is truncated.')
  if data[4] != VERSION:
    raise UserError(f'.ddz format version {data[4]} is not supported (this '
                    f'dd_jax reads version {VERSION}); decode it with the '
                    f'dd_jax version that wrote it.')
  if len(data) < 9 or zlib.crc32(data[:-4]) != struct.unpack('<I',
                                                              data[-4:])[0]:
    raise UserError('The .ddz file is damaged or truncated (CRC-32 checksum '
                    'mismatch); re-copy or re-encode it.')
  r = _Reader(data[:-4])
  r.take('<4sB')
  coder_id, flags, out_c, depth = r.take('<BBBB')
  if coder_id not in entropy.CODER_BY_ID or depth < 1 or (flags >> 2) & 3 > 2:
    raise UserError('The .ddz header holds unknown values (coder, depth or '
                    'upsampling); the file is damaged or from a newer writer.')
  channels = r.take(f'<{depth + 1}H')
  h, w, input_scale, seed = r.take('<HHfI')
  upsample = {v: k for k, v in UPSAMPLE_IDS.items()}[(flags >> 2) & 3]
  spec = models.DeepDecoder(
      channels=tuple(channels), out_channels=out_c,
      output_hw=padded_hw((h, w), depth, upsample), upsample=upsample,
      upsample_first=bool(flags & 1), norm_before_act=bool(flags & 2),
      input_scale=float(str(np.float32(input_scale))))  # shortest form
  if bool(flags & 16) != bool(jax.config.jax_threefry_partitionable):
    raise UserError('This .ddz file was written with jax_threefry_'
                    f'partitionable={bool(flags & 16)}; set that jax flag the '
                    'same way to regenerate its input.')
  tables = []
  for _ in range(num_tensors(spec)):
    (b,) = r.take('<B')
    off, sc = np.frombuffer(bytes(r.take('<4s')[0]), '<f2')
    if not 1 <= b <= MAX_BITS:
      raise UserError('The .ddz header holds an invalid bit depth.')
    tables.append(QTable(b, off, sc))
  (n,) = r.take('<I')
  if r.pos + n != len(r.data):
    raise UserError('The .ddz payload length does not match the file size; '
                    'the file is damaged.')
  shapes = tensor_shapes(spec)
  counts = [int(np.prod(s)) for s in shapes]
  coder = entropy.CODER_BY_ID[coder_id]
  symbols = entropy.get_coder(coder).decode(r.data[r.pos:], [t.bits for t in
                                                             tables], counts)
  params = unflatten([dequantize(q, tb, s) for q, tb, s in
                      zip(symbols, tables, shapes)], spec)
  return Decoded(spec, (h, w), seed, coder, tables, params)


def decode(data: bytes) -> np.ndarray:
  """The image `[H, W, C]` float32 in (0, 1) stored in .ddz bytes."""
  d = parse(data)
  z = input_for_seed(d.seed, d.spec)
  return np.asarray(make_render(d.spec, tuple(d.image_hw))(d.params, z))


# ---------------------------------------------------------- bit allocation
def sensitivities(params, spec: models.DeepDecoder, z, *, probe_bits: int = 6,
                  draws: int = 4, seed: int = 1) -> np.ndarray:
  """a_t = E ||G(w + e_t) - G(w)||^2_mean / sigma_t^2 per tensor (appendix B).

  e_t is iid N(0, sigma_t^2) on tensor t only, sigma_t the noise std of
  probe_bits-bit quantization of t. Quantizing t at b bits then adds about
  a_t * step_t(b)^2 / 12 to the MSE.
  """
  render = jax.jit(lambda p, z: spec.apply({'params': p}, z))
  base = render(params, z)
  tensors = flatten(params)
  rng = np.random.default_rng(seed)
  out = []
  for i, t in enumerate(tensors):
    sigma = max(float(t.max() - t.min()), 1e-8) / (2 ** probe_bits - 1) / (
        math.sqrt(12))
    acc = 0.0
    for _ in range(draws):
      pert = list(tensors)
      pert[i] = t + rng.normal(0, sigma, t.shape).astype(np.float32)
      acc += float(jnp.mean(jnp.square(render(unflatten(pert, spec), z)
                                       - base)))
    out.append(acc / draws / sigma ** 2)
  return np.asarray(out)


def allocate_bits(params, spec: models.DeepDecoder, sens: np.ndarray,
                  mean_bits: float, *, min_bits: int = 2,
                  max_bits: int = 12) -> list[int]:
  """Greedy per-tensor depths with sum n_t b_t <= mean_bits * N.

  Minimizes sum_t a_t step_t(b_t)^2 / 12, step_t(b) = range_t / (2^b - 1):
  each extra bit goes to the tensor with the largest distortion drop per
  stored bit.
  """
  tensors = flatten(params)
  sizes = np.array([t.size for t in tensors])
  ranges = np.array([max(float(t.max() - t.min()), 1e-12) for t in tensors])
  budget = mean_bits * sizes.sum()
  bits = [min_bits] * len(tensors)
  dist = lambda i, b: sens[i] * (ranges[i] / (2 ** b - 1)) ** 2 / 12
  heap = [(-(dist(i, min_bits) - dist(i, min_bits + 1)) / sizes[i], i)
          for i in range(len(tensors))]
  heapq.heapify(heap)
  used = min_bits * sizes.sum()
  while heap:
    _, i = heapq.heappop(heap)
    if used + sizes[i] > budget or bits[i] >= max_bits:
      continue
    bits[i] += 1
    used += sizes[i]
    if bits[i] < max_bits:
      heapq.heappush(heap, (-(dist(i, bits[i]) - dist(i, bits[i] + 1))
                            / sizes[i], i))
  return bits


# ----------------------------------------------- quantization-aware tuning
def _fake_quant(t, bits: int):
  lo, hi = jnp.min(t), jnp.max(t)
  levels = 2.0 ** bits - 1
  scale = jnp.where(hi > lo, (hi - lo) / levels, 1.0)
  q = lo + jnp.clip(jnp.round((t - lo) / scale), 0, levels) * scale
  return t + jax.lax.stop_gradient(q - t)    # straight-through estimator


def finetune_quantized(params, spec, image: np.ndarray, bits: Sequence[int],
                       *, seed: int = 0, steps: int = 200, lr: float = 1e-3):
  """Quantization-aware fine-tuning (straight-through) at fixed bit depths.

  Returns the float params whose quantization fitted the image best.
  """
  import optax
  from dd_jax import fitting as fit_lib
  h, w = image.shape[:2]
  bits = tuple(int(b) for b in bits)

  def qapply(p, z):
    return spec.apply({'params': unflatten([_fake_quant(t, b) for t, b in
                                            zip(flatten_jax(p), bits)], spec)},
                      z)

  tx = optax.adam(optax.cosine_decay_schedule(lr, steps))
  step = fit_lib.make_step(qapply, lambda x, aux: x[:h, :w],
                           lambda a, b: jnp.mean(jnp.square(a - b)), tx,
                           fit_lib.FitOptions(best_rel=0.0))
  params = jax.tree.map(jnp.asarray, params)
  state = fit_lib.new_state(params, tx, jax.random.key(seed), 'reference')
  batch = {'z': input_for_seed(seed, spec), 'y': jnp.asarray(image),
           'aux': {}}
  run = jax.jit(lambda s: jax.lax.fori_loop(
      0, steps, lambda i, s: step(s, batch)[0], s))
  state = run(state)
  return jax.tree.map(np.asarray, state.best_params)


def flatten_jax(params) -> list:
  """`flatten` without the conversion to numpy (traceable)."""
  depth = sum(1 for name in params if name.startswith('layer_'))
  out = []
  for i in range(depth):
    layer = params[f'layer_{i}']
    out += [layer['w'], layer['gamma'], layer['beta']]
  return out + [params['out']['w']]
