"""Complex images: the channel-pair layout, .npy round trips, the synthetic
phase, and the complex metrics against numpy."""

import os

import numpy as np
import pytest

from dd_jax.errors import UserError
from dd_jax.evaluation import metrics
from dd_jax.io import images
from dd_jax.io import writers


def rand_complex(shape, seed, top=0.95):
  rng = np.random.default_rng(seed)
  z = rng.standard_normal(shape) + 1j * rng.standard_normal(shape)
  return (top * z / np.abs(z).max()).astype(np.complex64)


def test_channel_pairs_layout():
  z = rand_complex((4, 5, 3), 0)
  x = images.from_complex(z)
  assert x.shape == (4, 5, 6) and x.dtype == np.float32
  np.testing.assert_array_equal(x[..., 2], z[..., 1].real)
  np.testing.assert_array_equal(x[..., 3], z[..., 1].imag)
  np.testing.assert_array_equal(images.to_complex(x), z)


@pytest.mark.parametrize('shape', [(32, 32), (32, 32, 2)])
def test_npy_round_trip(tmp_path, shape):
  """load -> write (the run's writer) -> load gives the same image."""
  z = rand_complex(shape, 1)
  np.save(tmp_path / 'gt.npy', z)
  x, info = images.load_input(str(tmp_path / 'gt.npy'), size=0,
                              complex_valued=True)
  assert x.shape == (32, 32, 2 * (shape[2] if len(shape) == 3 else 1))
  assert info.bits == 16
  writers.save_image(str(tmp_path), 'gt', 'restored', x, info,
                     complex_valued=True)
  for end in ('_magnitude.png', '_phase.png', '.npy'):
    assert os.path.isfile(tmp_path / f'gt_restored{end}'), end
  written = np.load(tmp_path / 'gt_restored.npy')
  assert written.shape == shape and written.dtype == np.complex64
  np.testing.assert_array_equal(written, z)
  again, _ = images.load_input(str(tmp_path / 'gt_restored.npy'), size=0,
                               complex_valued=True)
  np.testing.assert_array_equal(again, x)
  mag = images.load_image(str(tmp_path / 'gt_restored_magnitude.png'))
  np.testing.assert_allclose(mag[..., 0], np.abs(z if z.ndim == 2
                                                 else z[..., 0]), atol=1e-4)
  phase = images.load_image(str(tmp_path / 'gt_restored_phase.png'))
  want = (np.angle(z if z.ndim == 2 else z[..., 0]) + np.pi) / (2 * np.pi)
  np.testing.assert_allclose(phase[..., 0], want, atol=1e-4)


def test_resize_keeps_negative_parts(tmp_path):
  z = rand_complex((48, 48), 2)
  np.save(tmp_path / 'gt.npy', z)
  x, _ = images.load_input(str(tmp_path / 'gt.npy'), size=32,
                           complex_valued=True)
  assert x.shape == (32, 32, 2) and x.min() < -0.1
  assert np.abs(images.to_complex(x)).max() <= 1 + 1e-6


def test_real_image_as_magnitude_with_smooth_phase():
  x, _ = images.load_input('shepp_logan', size=64, channels='gray',
                           complex_valued=True, phase='smooth')
  mag, _ = images.load_input('shepp_logan', size=64, channels='gray')
  z = images.to_complex(x)
  np.testing.assert_allclose(np.abs(z), mag, atol=1e-6)
  phi = images.smooth_phase((64, 64))
  inside = mag[..., 0] > 0.1
  np.testing.assert_allclose(np.angle(z[..., 0])[inside], phi[inside],
                             atol=1e-5)
  assert np.abs(phi).max() < np.pi and np.abs(np.diff(phi, axis=1)).max() < 0.1


@pytest.mark.parametrize('kwargs, message', [
    (dict(phase='smooth'), 'needs data.complex=True'),
    (dict(phase='spiral', complex_valued=True), 'Unknown data.phase'),
    (dict(complex_valued='yes'), 'data.complex must be True or False'),
])
def test_bad_settings(kwargs, message):
  with pytest.raises(UserError, match=message):
    images.check_settings(**kwargs)


def test_magnitude_above_one_is_refused(tmp_path):
  np.save(tmp_path / 'big.npy', 3 * rand_complex((16, 16), 3))
  with pytest.raises(UserError, match='divide it by its largest magnitude'):
    images.load_complex(str(tmp_path / 'big.npy'))


def test_complex_metrics_against_numpy():
  ref = rand_complex((16, 16, 1), 4)
  z = ref * np.exp(0.2j) * 0.9
  x, r = images.from_complex(z), images.from_complex(ref)
  err = metrics.complex_errors(x, r)
  z64, ref64 = images.to_complex(x.astype(np.float64)), images.to_complex(
      r.astype(np.float64))
  want = np.linalg.norm(z64 - ref64) / np.linalg.norm(ref64)
  np.testing.assert_allclose(err['rel_l2_error'], want, rtol=1e-12)
  np.testing.assert_allclose(err['phase_error_rad'], 0.2, atol=1e-5)
  inside = np.abs(ref64) > 0.1 * np.abs(ref64).max()
  assert err['phase_support'] == inside.mean()
  np.testing.assert_allclose(
      float(metrics.magnitude_psnr(x, r)),
      10 * np.log10(1 / np.mean((np.abs(z64) - np.abs(ref64)) ** 2)),
      rtol=1e-4)
