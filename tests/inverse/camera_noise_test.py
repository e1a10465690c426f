"""Camera noise: the sRGB transfer function, Poisson-Gaussian statistics in
linear space, Bayer / colour-correction correlation, 8-bit and JPEG output,
the pairs written, and the wavelet noise estimate."""

import os

import jax
import numpy as np
import pytest
from PIL import Image

from dd_jax.errors import UserError
from dd_jax.inverse import camera_noise as cn
from dd_jax.io import images as data_lib
from dd_jax.io import inputs


def test_srgb_transfer_function_matches_the_standard_and_inverts():
  # IEC 61966-2-1 reference points: 0.5 sRGB is 0.21404 linear, 0.04045 is
  # the knee (linear 0.0031308).
  np.testing.assert_allclose(cn.srgb_to_linear([0.0, 0.04045, 0.5, 1.0]),
                             [0.0, 0.0031308, 0.2140411, 1.0], atol=1e-6)
  x = np.linspace(0, 1, 1001)
  np.testing.assert_allclose(cn.linear_to_srgb(cn.srgb_to_linear(x)), x,
                             atol=1e-12)


@pytest.mark.parametrize('level', [0.2, 0.6])
def test_linear_variance_is_a_x_plus_b_squared_on_a_flat_patch(level):
  a, b = 0.004, 0.01
  lin = float(level)
  srgb = np.full((256, 256, 3), cn.linear_to_srgb(lin))
  noisy = cn.camera_noise(0, srgb, a=a, b=b, bayer=False)
  assert noisy.dtype == np.uint8 and noisy.shape == (256, 256, 3)
  # Back to linear: the 8-bit steps add ~1/12 step^2 of variance (at these
  # levels a step is < 0.004 linear: negligible next to a x + b^2).
  back = cn.srgb_to_linear(noisy / 255.0)
  want = a * lin + b * b
  assert abs(back.mean() - lin) < 0.003
  assert abs(back.var() / want - 1) < 0.05, (back.var(), want)


def test_output_is_8_bit_and_reproducible_from_the_seed_or_key():
  x = data_lib.synthetic_image(0, (32, 32), 3)
  one = cn.camera_noise(3, x, jpeg_quality=80)
  assert one.dtype == np.uint8
  np.testing.assert_array_equal(one, cn.camera_noise(3, x, jpeg_quality=80))
  f = cn.camera_noise(3, x, jpeg_quality=80, as_float=True)
  assert f.dtype == np.float32
  np.testing.assert_array_equal(f * 255, one.astype(np.float32))
  assert not np.array_equal(one, cn.camera_noise(4, x, jpeg_quality=80))
  k = cn.camera_noise(jax.random.key(1), x)
  np.testing.assert_array_equal(k, cn.camera_noise(jax.random.key(1), x))


def test_bayer_pipeline_makes_channel_and_spatially_correlated_noise():
  srgb = np.full((128, 128, 3), 0.5)
  corr = {}
  for bayer in (False, True):
    noisy, mean = cn.camera_pair(0, srgb, a=0.01, b=0.01, bayer=bayer,
                                 as_float=True)
    d = (noisy - mean).astype(np.float64)
    rg = np.corrcoef(d[..., 0].ravel(), d[..., 1].ravel())[0, 1]
    # Horizontal neighbours of the green channel.
    lag = np.corrcoef(d[:, :-1, 1].ravel(), d[:, 1:, 1].ravel())[0, 1]
    corr[bayer] = (rg, lag)
  assert abs(corr[False][0]) < 0.05 and abs(corr[False][1]) < 0.05
  assert abs(corr[True][0]) > 0.2  # The colour correction mixes channels.
  assert corr[True][1] > 0.1  # Demosaicing spreads noise to neighbours.


def test_mosaic_and_demosaic_keep_a_flat_image():
  lin = np.full((8, 10, 3), [0.2, 0.5, 0.7])
  raw = cn.mosaic(lin)
  assert raw[0, 0] == 0.2 and raw[0, 1] == 0.5 and raw[1, 1] == 0.7
  np.testing.assert_allclose(cn.demosaic(raw), lin, atol=1e-12)


def test_jpeg_is_a_real_jpeg_and_changes_the_pixels():
  x = data_lib.synthetic_image(1, (48, 48), 3)
  png = cn.camera_noise(0, x)
  jpg = cn.camera_noise(0, x, jpeg_quality=50)
  assert cn.jpeg_bytes(png, 50)[:2] == b'\xff\xd8'
  assert 0 < np.mean(png != jpg)


def test_bad_arguments_are_user_errors():
  x = np.zeros((8, 8, 3))
  with pytest.raises(UserError, match='RGB'):
    cn.camera_noise(0, np.zeros((8, 8, 1)))
  with pytest.raises(UserError, match='>= 0'):
    cn.camera_noise(0, x, a=-1)
  with pytest.raises(UserError, match='jpeg_quality'):
    cn.camera_noise(0, x, jpeg_quality=0)


@pytest.mark.parametrize('jpeg', [None, 90])
def test_pairs_are_written_and_paired_by_the_benchmark_pattern(tmp_path,
                                                               jpeg):
  folder = str(tmp_path / 'pairs')
  recs = cn.write_pairs(folder, ['astronaut', 'coffee'], size=32, seed=0,
                        jpeg_quality=jpeg)
  ext = 'png' if jpeg is None else 'jpg'
  assert sorted(os.listdir(folder)) == sorted(
      [f'astronaut_real.{ext}', 'astronaut_mean.png',
       f'coffee_real.{ext}', 'coffee_mean.png'])
  ms, refs = inputs.pair_sources(folder, '', f'*_real.{ext}:*_mean.png')
  assert [os.path.basename(r) for r in refs] == ['astronaut_mean.png',
                                                 'coffee_mean.png']
  for rec, m, r in zip(recs, ms, refs):
    assert (rec['real'], rec['mean']) == (m, r)
    with Image.open(m) as im:
      assert im.format == ('PNG' if jpeg is None else 'JPEG')
      assert im.mode == 'RGB' and im.size == (32, 32)
    noisy = data_lib.load_image(m, 'rgb')
    mean = data_lib.load_image(r, 'rgb')
    assert abs(float(np.std(noisy.astype(np.float64) - mean))
               - rec['true_std']) < 1e-6
    assert rec['true_std'] > 0.01


def test_estimate_is_close_to_the_true_std_of_white_camera_noise():
  # Without Bayer or JPEG the noise is white (signal-dependent): the wavelet
  # estimate lands near its std; demosaiced noise is correlated and reads
  # low (what experiments/real_noise reports).
  x = data_lib.fit_size(data_lib.load_image('coffee', 'rgb'), 256, 1, 'c')
  noisy, mean = cn.camera_pair(0, x, a=0.004, b=0.004, bayer=False,
                               as_float=True)
  true = float(np.std(noisy - mean))
  assert abs(cn.estimate_noise_std(noisy) / true - 1) < 0.15
  flat = np.full((128, 128, 3), 0.5, np.float32)
  g = np.clip(flat + 0.03 * np.random.default_rng(0).standard_normal(
      flat.shape), 0, 1)
  assert abs(cn.estimate_noise_std(g) - 0.03) < 0.002
  noisy, mean = cn.camera_pair(0, x, a=0.004, b=0.004, bayer=True,
                               as_float=True)
  assert cn.estimate_noise_std(noisy) < 0.8 * float(np.std(noisy - mean))
