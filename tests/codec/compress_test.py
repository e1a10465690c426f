"""Tests of the deep-decoder codec: coders, quantization, file format, CLI."""

import math
import os
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from dd_jax.codec import cli as codec_cli
from dd_jax.codec import compress as C
from dd_jax.io import images as data_lib
from dd_jax.codec import entropy
from dd_jax import fitting as fit_lib
from dd_jax.errors import UserError
from tests.conftest import REPO

HW = (30, 36)   # Not a multiple of 2^(d-1): exercises padding and cropping.


@pytest.fixture(scope='module')
def model():
  spec = C.codec_spec((*HW, 3), k=8, depth=3)
  z = C.input_for_seed(5, spec)
  params = jax.tree.map(np.asarray, spec.init(jax.random.key(5), z)['params'])
  return spec, params


# ------------------------------------------------------------ entropy coders
@pytest.mark.parametrize('name', sorted(entropy.CODERS))
def test_coder_roundtrip(name):
  rng = np.random.default_rng(0)
  bits = [1, 3, 8, 12, 5, 4]
  counts = [100, 257, 500, 300, 0, 1]
  symbols = [rng.integers(0, 2 ** b, n) for b, n in zip(bits, counts)]
  symbols[2] = np.clip(np.rint(rng.normal(128, 6, 500)), 0, 255).astype(int)
  coder = entropy.get_coder(name)
  out = coder.decode(coder.encode(symbols, bits), bits, counts)
  for a, b in zip(symbols, out):
    np.testing.assert_array_equal(a, b)


def test_arith_reaches_entropy_on_skewed_source():
  rng = np.random.default_rng(1)
  p = np.array([0.7, 0.15, 0.08, 0.04, 0.02, 0.01])
  p = np.concatenate([p, np.zeros(2)])
  syms = rng.choice(8, 20000, p=p / p.sum())
  counts = np.bincount(syms, minlength=8) / syms.size
  nz = counts[counts > 0]
  entropy_bits = -np.sum(nz * np.log2(nz)) * syms.size
  data = entropy.CODERS['arith'].encode([syms], [3])
  assert 8 * len(data) < 1.02 * entropy_bits + 200
  assert 8 * len(data) < 0.5 * 3 * syms.size   # Far below raw 3 bits.


def test_unknown_coder():
  with pytest.raises(UserError, match='arith'):
    entropy.get_coder('huffman')


# --------------------------------------------------------------- quantizing
@pytest.mark.parametrize('bits', [1, 2, 4, 8, 12])
def test_quantization_error_bounds(bits):
  rng = np.random.default_rng(bits)
  t = rng.uniform(-0.7, 0.4, 20000).astype(np.float32)
  table = C.quant_table(t, bits)
  q = C.quantize(t, table)
  deq = C.dequantize(q, table, t.shape)
  step = float(table.scale)
  levels = 2 ** bits - 1
  assert q.min() >= 0 and q.max() <= levels
  # The float16 grid covers the range and is at most a hair coarser.
  assert float(table.offset) <= t.min()
  assert float(table.offset) + levels * step >= t.max()
  ideal = (float(t.max()) - float(t.min())) / levels
  assert ideal <= step <= ideal * (1 + 2e-3) + 1e-7
  err = deq.astype(np.float64) - t
  assert np.abs(err).max() <= step / 2 * (1 + 1e-5) + 1e-7
  # Uniform data: quantization noise variance step^2 / 12 (closed form).
  if bits >= 4:
    np.testing.assert_allclose(np.mean(err ** 2), step ** 2 / 12, rtol=0.1)


def test_constant_tensor():
  t = np.full(10, 0.25, np.float32)
  table = C.quant_table(t, 4)
  np.testing.assert_array_equal(C.dequantize(C.quantize(t, table), table,
                                             (10,)), t)


def test_allocation_closed_form():
  """Two equal tensors, sensitivity ratio 16: distortion ~ a 4^-b, so the
  optimum gives the sensitive one log4(16) = 2 more bits."""
  params = {'hidden': [], 'out': {'w': None}}
  t1 = np.linspace(-1, 1, 100).astype(np.float32)
  flat = [t1, t1.copy()]
  spec = None
  orig = C.flatten
  try:
    C.flatten = lambda p: flat
    bits = C.allocate_bits(params, spec, np.array([16.0, 1.0]), 6)
  finally:
    C.flatten = orig
  assert bits == [7, 5]


def test_allocation_respects_budget(model):
  spec, params = model
  rng = np.random.default_rng(0)
  sens = rng.uniform(0.01, 10, C.num_tensors(spec))
  bits = C.allocate_bits(params, spec, sens, 4.5)
  sizes = [t.size for t in C.flatten(params)]
  assert sum(n * b for n, b in zip(sizes, bits)) <= 4.5 * sum(sizes)
  assert sum(n * b for n, b in zip(sizes, bits)) > 4.0 * sum(sizes)


# ------------------------------------------------------------- file format
def test_input_matches_fit_init_state(model):
  spec, _ = model
  tx = optax.adam(0.01)
  _, zs = fit_lib.init_state(jax.random.key(7, impl='threefry2x32')[None],
                             spec, tx)
  np.testing.assert_array_equal(np.asarray(zs[0]),
                                np.asarray(C.input_for_seed(7, spec)))


@pytest.mark.parametrize('coder', ['auto', 'raw', 'arith'])
def test_roundtrip_equals_quantized_model(model, coder):
  spec, params = model
  bits = [6, 8, 8, 5, 8, 8, 4, 7, 7, 6]
  data = C.encode(params, spec, seed=3, bits=bits, image_hw=HW, coder=coder)
  deq, _, _ = C.quantize_params(params, spec, bits)
  z = C.input_for_seed(3, spec)
  out = C.decode(data)
  assert out.shape == (*HW, 3)
  # Bit-exact against the quantized model run by the codec's jitted program.
  np.testing.assert_array_equal(out, np.asarray(C.make_render(spec, HW)(deq,
                                                                        z)))
  # Eager (unfused) evaluation of the same model agrees to float32 rounding.
  eager = np.asarray(spec.apply({'params': deq}, z))[:HW[0], :HW[1]]
  np.testing.assert_allclose(out, eager, atol=1e-5)
  if coder == 'raw':   # Header + CRC: 29 + 2 (d + 1) + 5 (3 d + 1) bytes.
    _, symbols, _ = C.quantize_params(params, spec, bits)
    payload = entropy.CODERS['raw'].encode(symbols, bits)
    assert len(data) - len(payload) == 29 + 2 * 4 + 5 * 10
  d = C.parse(data)
  assert d.spec == spec and d.seed == 3 and d.image_hw == HW
  assert [t.bits for t in d.tables] == bits
  for a, b in zip(C.flatten(d.params), C.flatten(deq)):
    np.testing.assert_array_equal(a, b)


def _encoded(model):
  spec, params = model
  return C.encode(params, spec, seed=1, bits=[5] * C.num_tensors(spec),
                  image_hw=HW, coder='zlib')


def test_corrupt_truncated_wrong_version(model):
  data = _encoded(model)
  bad = bytearray(data)
  bad[len(data) // 2] ^= 0x10
  with pytest.raises(UserError, match='checksum'):
    C.parse(bytes(bad))
  for cut in (3, 8, 40, len(data) - 1):
    with pytest.raises(UserError, match='truncated|magic|checksum'):
      C.parse(data[:cut])
  with pytest.raises(UserError, match='magic'):
    C.parse(b'PNG' + data[3:])
  newer = bytearray(data)
  newer[4] = C.VERSION + 1
  with pytest.raises(UserError, match=f'version {C.VERSION + 1}'):
    C.parse(bytes(newer))


def test_decode_deterministic_across_processes(model, tmp_path):
  data = _encoded(model)
  first, second = C.decode(data), C.decode(data)
  assert first.tobytes() == second.tobytes()
  path = tmp_path / 'x.ddz'
  path.write_bytes(data)
  code = ('import sys, numpy as np; from dd_jax.codec import compress as C; '
          'sys.stdout.buffer.write(C.decode(open(sys.argv[1], "rb").read())'
          '.tobytes())')
  out = subprocess.run([sys.executable, '-c', code, str(path)], cwd=REPO,
                       capture_output=True, check=True,
                       env={**os.environ, 'PYTHONPATH': REPO})
  assert out.stdout == first.tobytes()


# ---------------------------------------------------------------------- CLI
def test_cli_end_to_end(tmp_path):
  img = data_lib.synthetic_image(0, (32, 32), 3)
  src = tmp_path / 'in.png'
  data_lib.save_png(str(src), img)
  ddz, png = tmp_path / 'out.ddz', tmp_path / 'out.png'
  args = ['compress', str(src), str(ddz), '--k', '8', '--steps', '20',
          '--bits', '6', '--qat-steps', '5', '--quiet']
  assert codec_cli.main(args) == 0
  data = ddz.read_bytes()
  assert data[:4] == C.MAGIC
  assert codec_cli.main(['decompress', str(ddz), str(png), '--quiet']) == 0
  from PIL import Image
  restored = np.asarray(Image.open(png))
  np.testing.assert_array_equal(restored, data_lib.to_uint8(C.decode(data)))
  # Existing outputs are kept without --force.
  assert codec_cli.main(args) == 2
  assert ddz.read_bytes() == data
  assert codec_cli.main(['decompress', str(ddz), str(png), '--quiet']) == 2
  # A damaged file fails cleanly and writes nothing.
  bad = tmp_path / 'bad.ddz'
  bad.write_bytes(data[:-10])
  assert codec_cli.main(['decompress', str(bad), str(tmp_path / 'b.png')]) == 2
  assert sorted(os.listdir(tmp_path)) == ['bad.ddz', 'in.png', 'out.ddz',
                                          'out.png']
  assert codec_cli.main(['decompress', str(ddz), '--info']) == 0


def test_cli_bpp_budget(tmp_path):
  img = data_lib.synthetic_image(1, (32, 32), 1)
  src = tmp_path / 'g.png'
  data_lib.save_png(str(src), img)
  out = tmp_path / 'g.ddz'
  assert codec_cli.main(['compress', str(src), str(out), '--bpp', '3',
                         '--steps', '20', '--alloc', 'uniform',
                         '--qat-steps', '0', '--quiet']) == 0
  assert 8 * out.stat().st_size / (32 * 32) <= 3
  assert C.parse(out.read_bytes()).spec.out_channels == 1


def test_bd_rate_closed_form():
  from experiments.rate_distortion import baselines as B
  r = np.array([0.1, 0.2, 0.4, 0.8, 1.6])
  p = 25 + 3 * np.log2(r / 0.1)
  assert math.isclose(B.bd_rate(r, p, 2 * r, p), 100.0, rel_tol=1e-6)
  assert math.isclose(B.bd_psnr(r, p, r, p + 1.5), 1.5, rel_tol=1e-6)


def test_decodes_files_written_before_the_flax_models():
  """A .ddz written by the pre-Flax code (tests/codec/data) decodes to the
  same float32 image: file tensor order and B0 are unchanged (a change
  there moves pixels by O(0.1)). Equal to float32 rounding, not bit for
  bit: CPUs with other SIMD widths round the decoder's sums differently
  (up to 1e-6 between an AVX-512 and an AVX2 machine)."""
  data_dir = os.path.join(os.path.dirname(__file__), 'data')
  with open(os.path.join(data_dir, 'tiny_k4_d3.ddz'), 'rb') as f:
    data = f.read()
  expected = np.load(os.path.join(data_dir, 'tiny_k4_d3_decoded.npy'))
  d = C.parse(data)
  assert d.spec.channels == (4,) * 4 and d.image_hw == (32, 32)
  assert C.tensor_names(d.spec)[:3] == ['hidden0.w', 'hidden0.gamma',
                                        'hidden0.beta']
  np.testing.assert_allclose(C.decode(data), expected, rtol=0, atol=1e-5)
