"""Image and measurement loaders on small files, real-data entry points."""

import json
import logging
import os

import numpy as np
import pytest
from PIL import Image

from configs import common
from dd_jax.io import images as data
from dd_jax.io import png
from dd_jax import run as run_lib
from dd_jax.errors import UserError


def rgb(h=10, w=12):
  rng = np.random.default_rng(0)
  return rng.integers(0, 256, (h, w, 3), dtype=np.uint8)


def test_gray_rgb_rgba_png(tmp_path):
  arr = rgb()
  Image.fromarray(arr).save(tmp_path / 'c.png')
  Image.fromarray(arr[..., 0]).save(tmp_path / 'g.png')
  rgba = np.concatenate([arr, np.full((10, 12, 1), 200, np.uint8)], -1)
  Image.fromarray(rgba).save(tmp_path / 'a.png')
  np.testing.assert_allclose(data.load_image(str(tmp_path / 'c.png')),
                             arr / 255.0, atol=1e-7)
  g = data.load_image(str(tmp_path / 'g.png'))
  assert g.shape == (10, 12, 1)
  a = data.load_image(str(tmp_path / 'a.png'))
  assert a.shape == (10, 12, 4) and abs(a[0, 0, 3] - 200 / 255) < 1e-7
  assert data.load_image(str(tmp_path / 'a.png'), 'rgb').shape == (10, 12, 3)


def test_palette_png_converted_loudly(tmp_path, caplog):
  caplog.set_level(logging.INFO, logger='absl')  # [data] notes are INFO lines.
  idx = np.arange(120, dtype=np.uint8).reshape(10, 12) % 4
  im = Image.fromarray(idx, 'P')
  im.putpalette([0, 0, 0, 255, 0, 0, 0, 255, 0, 10, 20, 30] + [0] * 756)
  im.save(tmp_path / 'p.png')
  out = data.load_image(str(tmp_path / 'p.png'))
  assert 'palette' in caplog.text
  np.testing.assert_allclose(out[0, 3], np.array([10, 20, 30]) / 255.0,
                             atol=1e-7)  # palette colours, not indices


def test_16bit_png_and_tiff(tmp_path, caplog):
  caplog.set_level(logging.INFO, logger='absl')  # [data] notes are INFO lines.
  v = (np.arange(120).reshape(10, 12) * 500).astype(np.uint16)
  Image.fromarray(v).save(tmp_path / 'd.png')
  import imageio.v3 as iio
  iio.imwrite(tmp_path / 'd.tif', v)
  for name in ('d.png', 'd.tif'):
    out = data.load_image(str(tmp_path / name))
    np.testing.assert_allclose(out[..., 0], v / 65535.0, atol=1e-6)
  assert '16-bit' in caplog.text


def test_jpeg_close_to_source(tmp_path):
  arr = np.full((16, 16, 3), 120, np.uint8)
  Image.fromarray(arr).save(tmp_path / 'j.jpg', quality=95)
  out = data.load_image(str(tmp_path / 'j.jpg'))
  assert out.shape == (16, 16, 3) and np.abs(out - 120 / 255).max() < 0.02


def test_bad_files(tmp_path):
  (tmp_path / 'x.png').write_bytes(b'not an image')
  with pytest.raises(UserError, match='Cannot read'):
    data.load_image(str(tmp_path / 'x.png'))
  with pytest.raises(UserError, match='neither a file'):
    data.load_image(str(tmp_path / 'missing.png'))
  with pytest.raises(UserError, match='Mask file not found'):
    data.load_mask(str(tmp_path / 'missing.png'), (4, 4))


def test_complex_npy_measurement(tmp_path):
  k = np.random.default_rng(0).standard_normal((8, 8)) * (1 + 2j)
  np.save(tmp_path / 'k.npy', k)
  y = data.load_measurement(str(tmp_path / 'k.npy'))
  assert y.shape == (8, 8, 1, 2)
  np.testing.assert_allclose(y[..., 0, 0] + 1j * y[..., 0, 1], k, atol=1e-6)


def test_odd_size_cropped_with_message(caplog):
  caplog.set_level(logging.INFO, logger='absl')  # [data] notes are INFO lines.
  img = np.zeros((37, 50, 3), np.float32)
  out = data.fit_size(img, 0, 8, 'odd')
  assert out.shape == (32, 48, 3) and 'centre-cropped' in caplog.text
  with pytest.raises(UserError, match='multiple'):
    data.fit_size(img, 0, 8, 'odd', crop=False)


def _touch(root, *paths):
  for p in paths:
    (root / p).parent.mkdir(parents=True, exist_ok=True)
    (root / p).write_bytes(b'')
  return [str(root / p) for p in paths]


def test_unique_names_from_paths(tmp_path):
  a, b, c = _touch(tmp_path, 'd1/img.png', 'd2/img.png', 'd3/img_1.png')
  assert data.unique_names([a, b, c]) == ['d1_img', 'd2_img', 'img_1']
  assert data.unique_names([c, a]) == ['img_1', 'img']  # no clash: stems
  # A derived name that is another input's stem takes one more folder.
  (d,) = _touch(tmp_path, 'd1_img.png')
  assert data.unique_names([a, b, d]) == [
      'd1_img', 'd2_img', f'{tmp_path.name}_d1_img']
  # The same file twice, and names equal but for case, stay apart.
  e, f = _touch(tmp_path, 'x/Img.png', 'x/img.png')
  assert data.unique_names([a, a, 'astronaut', 'astronaut']) == [
      'img', 'img_2', 'astronaut', 'astronaut_2']
  names = data.unique_names([e, f, a])
  assert len({n.lower() for n in names}) == 3
  # A fallback suffix never takes a name another input has.
  (g,) = _touch(tmp_path, 'img_2.png')
  names = data.unique_names([a, a, g])
  assert names[2] == 'img_2' and len(set(names)) == 3


def test_alpha_kept_out_of_the_fit_and_passed_through(tmp_path, caplog):
  caplog.set_level(logging.INFO, logger='absl')
  arr = rgb(16, 16)
  alpha = np.tile(np.arange(16, dtype=np.uint8)[None] * 16, (16, 1))
  Image.fromarray(np.dstack([arr, alpha])).save(tmp_path / 'a.png')
  x, info = data.load_input(str(tmp_path / 'a.png'))
  assert x.shape == (16, 16, 3) and info.bits == 8
  np.testing.assert_allclose(x, arr / 255.0, atol=1e-7)
  np.testing.assert_allclose(info.alpha[..., 0], alpha / 255.0, atol=1e-7)
  assert 'alpha channel kept out of the fit' in caplog.text
  data.save_png(str(tmp_path / 'out.png'), x, alpha=info.alpha)
  np.testing.assert_array_equal(np.asarray(Image.open(tmp_path / 'out.png')),
                                np.dstack([arr, alpha]))
  # A larger output (super-resolution) gets the alpha resized.
  data.save_png(str(tmp_path / 'big.png'), np.zeros((32, 32, 3)),
                alpha=info.alpha)
  big = np.asarray(Image.open(tmp_path / 'big.png'))
  assert big.shape == (32, 32, 4) and big[..., 3].max() > 200
  fit, fit_info = data.load_input(str(tmp_path / 'a.png'), alpha='fit')
  assert fit.shape == (16, 16, 4) and fit_info.alpha is None
  drop, drop_info = data.load_input(str(tmp_path / 'a.png'), alpha='drop')
  assert drop.shape == (16, 16, 3) and drop_info.alpha is None
  with pytest.raises(UserError, match="data.alpha 'nope'.*'keep'"):
    data.load_input(str(tmp_path / 'a.png'), alpha='nope')


def test_gray_alpha_and_channel_conversions(tmp_path):
  la = np.dstack([rgb()[..., 0], np.full((10, 12), 99, np.uint8)])
  Image.fromarray(la).save(tmp_path / 'la.png')
  path = str(tmp_path / 'la.png')
  assert data.load_image(path).shape == (10, 12, 2)
  np.testing.assert_allclose(data.load_image(path, 'gray')[..., 0],
                             la[..., 0] / 255.0, atol=1e-7)
  four = data.load_image(path, 'rgba')
  np.testing.assert_allclose(four[..., 3], 99 / 255.0, atol=1e-7)
  np.testing.assert_allclose(four[..., 1], la[..., 0] / 255.0, atol=1e-7)
  x, info = data.load_input(path)
  assert x.shape == (10, 12, 1) and info.alpha.shape == (10, 12, 1)


def test_16bit_rgb_read_at_full_depth_and_written_back(tmp_path, caplog):
  caplog.set_level(logging.INFO, logger='absl')
  v = np.random.default_rng(1).integers(0, 65536, (9, 7, 3), dtype=np.uint16)
  (tmp_path / 'c16.png').write_bytes(png.encode(v))
  # Pillow alone reads this file as 8 bit:
  assert np.asarray(Image.open(tmp_path / 'c16.png')).dtype == np.uint8
  x, info = data.load_image(str(tmp_path / 'c16.png'), with_info=True)
  assert info.bits == 16 and '16-bit' in caplog.text
  np.testing.assert_allclose(x, v / 65535.0, atol=1e-7)
  data.save_png(str(tmp_path / 'o16.png'), x, bits=info.bits)
  np.testing.assert_array_equal(png.read(str(tmp_path / 'o16.png')), v)
  np.testing.assert_array_equal(  # the high bytes Pillow reads
      np.asarray(Image.open(tmp_path / 'o16.png')), v >> 8)
  import tifffile
  tifffile.imwrite(tmp_path / 'c16.tif', v, photometric='rgb')
  t, tinfo = data.load_image(str(tmp_path / 'c16.tif'), with_info=True)
  assert tinfo.bits == 16
  np.testing.assert_allclose(t, v / 65535.0, atol=1e-7)


def _interlaced_png(v: np.ndarray) -> bytes:
  """A 16-bit Adam7 PNG written the long way (filter 0), for png.read."""
  import struct
  import zlib
  passes = ((0, 0, 8, 8), (0, 4, 8, 8), (4, 0, 8, 4), (0, 2, 4, 4),
            (2, 0, 4, 2), (0, 1, 2, 2), (1, 0, 2, 1))
  raw = b''
  for r0, c0, dr, dc in passes:
    sub = v[r0::dr, c0::dc]
    for row in sub.astype('>u2'):
      raw += b'\0' + row.tobytes()
  chunk = lambda t, b: (struct.pack('>I', len(b)) + t + b +
                        struct.pack('>I', zlib.crc32(t + b)))
  h, w, c = v.shape
  ihdr = struct.pack('>IIBBBBB', w, h, 16, {1: 0, 2: 4, 3: 2, 4: 6}[c], 0, 0,
                     1)
  return (png.SIGNATURE + chunk(b'IHDR', ihdr) +
          chunk(b'IDAT', zlib.compress(raw)) + chunk(b'IEND', b''))


@pytest.mark.parametrize('hw', [(11, 13), (1, 1), (3, 9)])
def test_interlaced_16bit_png(tmp_path, hw):
  v = np.random.default_rng(2).integers(0, 65536, (*hw, 4), dtype=np.uint16)
  (tmp_path / 'i.png').write_bytes(_interlaced_png(v))
  np.testing.assert_array_equal(png.read(str(tmp_path / 'i.png')), v)


def _filtered_rows(path, h):
  """The inflated IDAT rows (filter byte first) of a PNG file."""
  import struct
  import zlib
  data, pos, idat = path.read_bytes(), 8, b''
  while pos < len(data):
    (n,) = struct.unpack('>I', data[pos:pos + 4])
    if data[pos + 4:pos + 8] == b'IDAT':
      idat += data[pos + 8:pos + 8 + n]
    pos += 12 + n
  return np.frombuffer(zlib.decompress(idat), np.uint8).reshape(h, -1)


def test_png_decoder_matches_pillow_filters(tmp_path):
  """Pillow's 8-bit PNGs use all five row filters; png.read undoes them."""
  from skimage import data as skd
  for arr in (skd.astronaut()[100:180, 50:170], skd.camera()[:40, :50]):
    Image.fromarray(arr).save(tmp_path / 'p.png')
    got = png.read(str(tmp_path / 'p.png'))
    np.testing.assert_array_equal(got.reshape(arr.shape), arr)
    rows = _filtered_rows(tmp_path / 'p.png', arr.shape[0])
    bpp = arr.size // arr.shape[0] // arr.shape[1]
    for band in (1, 7):  # several bands, each starting below the last
      np.testing.assert_array_equal(
          png.unfilter(rows, bpp, band).reshape(arr.shape), arr)
  gray16 = (skd.camera()[:30, :40].astype(np.uint16) * 257 + 7)
  Image.fromarray(gray16).save(tmp_path / 'g16.png')  # Pillow's 16-bit gray
  np.testing.assert_array_equal(png.read(str(tmp_path / 'g16.png'))[..., 0],
                                gray16)


def test_broken_png_is_one_clear_error(tmp_path):
  data16 = png.encode(np.zeros((4, 4, 3), np.uint16))
  (tmp_path / 'cut.png').write_bytes(data16[:-20])
  bad = bytearray(data16)
  bad[40] ^= 0xFF  # inside IDAT: the checksum fails
  (tmp_path / 'crc.png').write_bytes(bytes(bad))
  for name, why in (('cut.png', 'truncated'), ('crc.png', 'checksum')):
    with pytest.raises(UserError, match=f'Cannot read.*{why}'):
      data.load_image(str(tmp_path / name))
  (tmp_path / 'x.png').write_bytes(b'not an image')
  with pytest.raises(UserError) as e:
    data.load_image(str(tmp_path / 'x.png'))
  assert 'pip install' not in str(e.value) and '\n' not in str(e.value)
  with pytest.raises(UserError, match='is a folder'):
    data.load_image(str(tmp_path))


def test_tiny_images_warned_or_refused(caplog):
  caplog.set_level(logging.INFO, logger='absl')
  one = np.full((1, 1, 3), 0.4, np.float32)
  out = data.fit_size(one, 64, 8, 'dot')
  assert out.shape == (64, 64, 3)
  np.testing.assert_allclose(out, 0.4, atol=1e-5)
  warned = [r for r in caplog.records if r.levelname == 'WARNING']
  assert len(warned) == 1 and 'upscaled 64.0x' in warned[0].getMessage()
  caplog.clear()
  data.fit_size(np.zeros((40, 40, 1), np.float32), 64, 8, 'ok')  # 1.6x
  assert not [r for r in caplog.records if r.levelname == 'WARNING']
  with pytest.raises(UserError, match='smaller than the smallest side.*8'):
    data.fit_size(one, 0, 8, 'dot')
  with pytest.raises(UserError, match='data.size must be 0'):
    data.fit_size(one, -1, 8, 'dot')
  with pytest.raises(UserError, match='data.size=4 is below.* 8'):
    data.fit_size(one, 4, 8, 'dot')
  with pytest.raises(UserError) as e:
    data.fit_size(np.zeros((37, 50, 3)), 0, 8, 'odd', crop=False)
  assert 'set data.crop=True' in str(e.value)
  with pytest.raises(UserError) as e:  # crop is on: no crop hint
    data.fit_size(np.zeros((5, 50, 3)), 0, 8, 'thin')
  assert 'data.crop' not in str(e.value)


def test_mask_file_alpha_and_empty(tmp_path):
  rgba = np.zeros((8, 8, 4), np.uint8)
  rgba[..., 3] = 255           # opaque everywhere
  rgba[:4, :, :3] = 255        # white top half = observed
  Image.fromarray(rgba).save(tmp_path / 'm.png')
  m = data.load_mask(str(tmp_path / 'm.png'), (8, 8))
  assert m[:4].all() and not m[4:].any()  # alpha alone observes nothing
  Image.fromarray(np.zeros((8, 8), np.uint8)).save(tmp_path / 'z.png')
  with pytest.raises(UserError, match='observes no pixel'):
    data.load_mask(str(tmp_path / 'z.png'), (8, 8))
  corner = np.zeros((8, 8), np.uint8)
  corner[0, 0] = 1
  Image.fromarray(corner).save(tmp_path / 'c.png')
  with pytest.raises(UserError, match='centre crop'):
    data.load_mask(str(tmp_path / 'c.png'), (4, 4))  # the crop misses it
  with pytest.raises(UserError, match='smaller than the image'):
    data.load_mask(str(tmp_path / 'm.png'), (16, 16))


def test_check_settings():
  data.check_settings(size=64, multiple=16, channels='rgb', alpha='drop')
  for kwargs, match in ((dict(size=-1), 'data.size'),
                        (dict(size=8, multiple=16), 'below'),
                        (dict(channels='cmyk'), 'data.channels'),
                        (dict(alpha='x'), 'data.alpha')):
    with pytest.raises(UserError, match=match):
      data.check_settings(**kwargs)


def test_save_png_is_atomic_and_keeps_nothing_behind(tmp_path):
  path = tmp_path / 'o.png'
  data.save_png(str(path), np.full((4, 4, 3), 0.5))
  data.save_png(str(path), np.full((4, 4, 3), np.nan))  # NaN -> 0
  assert np.asarray(Image.open(path)).max() == 0
  assert sorted(os.listdir(tmp_path)) == ['o.png']


# ------------------------------------------------------ real-data end to end
def _tiny(path_cfg, name, **sections):
  c = common.base_config('test')
  c.model.k, c.model.depth = 4, 2
  c.fit.steps = c.fit.log_every = 2
  c.operator.name = name
  for section, fields in sections.items():  # e.g. noise=dict(name='none')
    c.operator[section].update(fields)
  c.data.measurement = path_cfg
  return c


def test_real_lowres_image_upscaled(tmp_path):
  Image.fromarray(rgb(9, 11)).save(tmp_path / 'low.png')
  c = _tiny(str(tmp_path / 'low.png'), 'downsample',
            downsample=dict(factor=2), noise=dict(name='none'))
  c.model.depth = 3  # the model needs multiples of 4: 8x10 at low res
  run_lib.run(c, str(tmp_path / 'wd'))
  out = np.asarray(Image.open(tmp_path / 'wd' / 'low_restored.png'))
  assert out.shape == (16, 20, 3)  # 9x11 cropped to 8x10 (model), then x2


def test_real_image_with_own_mask(tmp_path):
  Image.fromarray(rgb(12, 12)).save(tmp_path / 'holes.png')
  m = np.full((12, 12), 255, np.uint8)
  m[3:6] = 0
  Image.fromarray(m).save(tmp_path / 'mask.png')
  c = _tiny(str(tmp_path / 'holes.png'), 'mask',
            mask=dict(kind=str(tmp_path / 'mask.png')), noise=dict(name='none'))
  c.fit.stop = 'validation'
  run_lib.run(c, str(tmp_path / 'wd'))
  summary = json.load(open(tmp_path / 'wd' / 'summary.json'))
  assert summary['images']['holes']['stop_step'] == -1  # 2 steps < patience
  c.operator.mask.kind = 'random'
  with pytest.raises(UserError, match='own mask'):
    run_lib.run(c, str(tmp_path / 'wd2'))


def test_cs_measurement_needs_image_shape(tmp_path):
  np.save(tmp_path / 'y.npy', np.zeros(40, np.float32))
  c = _tiny(str(tmp_path / 'y.npy'), 'cs_gaussian')
  with pytest.raises(UserError, match='image shape'):
    run_lib.run(c, str(tmp_path / 'wd'))


def test_simulated_mri_run(tmp_path):
  c = _tiny('', 'mri', noise=dict(name='gaussian', sigma=0.01))
  c.data.images, c.data.size, c.data.channels = 'camera', 16, 'gray'
  run_lib.run(c, str(tmp_path / 'wd'))
  assert os.path.isfile(tmp_path / 'wd' / 'camera_restored.png')
  assert not os.path.exists(tmp_path / 'wd' / 'camera_corrupted.png')
