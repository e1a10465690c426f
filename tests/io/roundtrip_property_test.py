"""Property tests: save -> load gives the pixels back, for every mode and
bit depth (gray, gray+alpha, RGB, RGBA; 8 and 16 bit PNG; float .npy), and
the PNG codec agrees with Pillow where Pillow reads the file."""

import os

from hypothesis import given, settings, strategies as st
import numpy as np
import pytest
from PIL import Image

from dd_jax.io import images
from dd_jax.io import png

SETTINGS = settings(max_examples=20, deadline=None, database=None,
                    derandomize=True)
MODES = {'gray': 1, 'gray+alpha': 2, 'rgb': 3, 'rgba': 4}


@st.composite
def pixels(draw, bits=None, channels=None):
  """uint8 / uint16 `[H, W, C]` of random size, mode and depth."""
  bits = bits or draw(st.sampled_from([8, 16]))
  c = channels or draw(st.sampled_from(sorted(MODES.values())))
  h, w = draw(st.integers(1, 12)), draw(st.integers(1, 12))
  seed = draw(st.integers(0, 2**32 - 1))
  dtype = np.uint8 if bits == 8 else np.uint16
  return np.random.default_rng(seed).integers(
      0, 2**bits, (h, w, c), dtype=dtype)


@pytest.fixture(name='folder', scope='module')
def _folder(tmp_path_factory):
  return tmp_path_factory.mktemp('roundtrip')


@SETTINGS
@given(pixels())
def test_save_load_every_mode_and_depth(folder, v):
  """save_png(x, bits) then load_image: the same pixels, depth and mode."""
  bits = v.dtype.itemsize * 8
  path = str(folder / 'x.png')
  x = v / (2**bits - 1)
  images.save_png(path, x, bits=bits)
  got, info = images.load_image(path, with_info=True)
  assert info.bits == bits and got.shape == v.shape
  np.testing.assert_array_equal(images.to_uint(got, bits).reshape(v.shape), v)
  np.testing.assert_allclose(got, x, atol=1e-7)


@SETTINGS
@given(pixels())
def test_alpha_passes_through_a_fit_input(folder, v):
  """load_input splits the alpha off; save_png puts it back unchanged."""
  bits = v.dtype.itemsize * 8
  src, out = str(folder / 'a.png'), str(folder / 'b.png')
  (folder / 'a.png').write_bytes(png.encode(v))
  x, info = images.load_input(src)
  alpha = v.shape[2] in (2, 4)
  assert x.shape[2] == v.shape[2] - alpha
  assert (info.alpha is not None) == alpha and info.bits == bits
  images.save_png(out, x, bits=info.bits, alpha=info.alpha)
  np.testing.assert_array_equal(png.read(out), v)


@SETTINGS
@given(pixels(bits=8))
def test_png_codec_agrees_with_pillow_8bit(folder, v):
  """8 bit: Pillow reads png.encode's files; png.read reads Pillow's."""
  path = str(folder / 'p.png')
  (folder / 'p.png').write_bytes(png.encode(v))
  np.testing.assert_array_equal(
      np.asarray(Image.open(path)).reshape(v.shape), v)
  Image.fromarray(v[..., 0] if v.shape[2] == 1 else v).save(path)
  np.testing.assert_array_equal(png.read(path), v)


@SETTINGS
@given(pixels(bits=16))
def test_png_codec_agrees_with_pillow_16bit(folder, v):
  """16 bit: Pillow reads gray at full depth and the rest as high bytes."""
  path = str(folder / 'p16.png')
  (folder / 'p16.png').write_bytes(png.encode(v))
  seen = np.asarray(Image.open(path))
  if v.shape[2] == 1:
    np.testing.assert_array_equal(seen, v[..., 0])
  elif v.shape[2] != 2:  # Pillow opens 16-bit gray+alpha as RGBA
    np.testing.assert_array_equal(seen, (v >> 8).astype(np.uint8))


@SETTINGS
@given(st.integers(1, 9), st.integers(1, 9), st.sampled_from([1, 2, 3, 4]),
       st.integers(0, 2**32 - 1))
def test_npy_measurement_round_trip(folder, h, w, c, seed):
  """Float arrays (.npy): exactly what was saved, as float32."""
  y = np.random.default_rng(seed).uniform(-1, 2, (h, w, c)).astype(np.float32)
  path = str(folder / 'y.npy')
  np.save(path, y)
  got, info = images.load_measurement(path, with_info=True)
  np.testing.assert_array_equal(got, y)
  assert info.bits == 16
  # load_input never splits an array's last channel off as alpha.
  same, info = images.load_input(path, measurement=True)
  np.testing.assert_array_equal(same, y)
  assert info.alpha is None


def test_no_temporary_files_left(folder):
  assert not [f for f in os.listdir(folder) if f.endswith('.tmp')]
