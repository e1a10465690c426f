"""Image and measurement loaders on small files, real-data entry points."""

import json
import logging
import os

import numpy as np
import pytest
from PIL import Image

from configs import common
from dd_jax.io import images as data
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
