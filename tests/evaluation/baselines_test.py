"""Baselines: BM3D, interpolation, wavelet keep-N, against closed forms."""

import numpy as np
import pytest

from dd_jax.evaluation import baselines
from dd_jax.io import images as data
from dd_jax.errors import UserError

pywt = pytest.importorskip('pywt')


def _psnr(a, b):
  return 10 * np.log10(1.0 / np.mean((np.float64(a) - b) ** 2))


def test_bm3d_denoises_gray_and_rgb():
  pytest.importorskip('bm3d')
  rng = np.random.default_rng(0)
  for c in (1, 3):
    x = data.synthetic_image(1, (48, 48), c)
    y = np.clip(x + 0.1 * rng.normal(size=x.shape), 0, 1).astype(np.float32)
    out = baselines.bm3d_denoise(y, 0.1)
    assert out.shape == x.shape and out.dtype == np.float32
    assert _psnr(out, x) > _psnr(y, x) + 6


@pytest.mark.parametrize('method', ['bicubic', 'lanczos'])
def test_upsample_keeps_constants_and_ramps(method):
  y = np.full((8, 10, 3), 0.4, np.float32)
  out = baselines.upsample(y, 4, method)
  assert out.shape == (32, 40, 3)
  np.testing.assert_allclose(out, 0.4, atol=1e-5)
  # A horizontal ramp at half-pixel centres is reproduced inside.
  ramp = ((np.arange(16) + 0.5) / 16).astype(np.float32)
  y = np.broadcast_to(ramp[None, :, None], (4, 16, 1)).copy()
  out = baselines.upsample(y, 2, method)
  want = (np.arange(32) + 0.5) / 32
  # Bicubic reproduces it exactly, Lanczos-3 to about 1e-3.
  atol = 1e-4 if method == 'bicubic' else 2e-3
  np.testing.assert_allclose(out[0, 8:-8, 0], want[8:-8], atol=atol)


def test_upsample_unknown_method():
  with pytest.raises(UserError, match='bicubic'):
    baselines.upsample(np.zeros((4, 4, 1), np.float32), 2, 'sinc')


def test_ycbcr_roundtrip_and_luma():
  x = np.random.default_rng(1).uniform(size=(5, 7, 3))
  ycc = baselines.rgb_to_ycbcr(x)
  np.testing.assert_allclose(ycc[..., 0], x @ [0.299, 0.587, 0.114], atol=1e-12)
  np.testing.assert_allclose(baselines.ycbcr_to_rgb(ycc), x, atol=1e-9)


def test_keep_all_is_lossless():
  x = data.synthetic_image(2, (32, 32), 3)
  out = baselines.wavelet_keep_n(x, 32 * 32 * 3, 'bior4.4')
  np.testing.assert_allclose(out, x, atol=1e-5)


def test_haar_keep_n_error_is_dropped_energy():
  """Orthonormal Haar: squared error = energy of the dropped coefficients."""
  rng = np.random.default_rng(3)
  x = (0.5 + 0.1 * rng.normal(size=(32, 32, 1))).clip(0.2, 0.8)
  n = 200
  out = baselines.wavelet_keep_n(x, n, 'haar', ycbcr=False, levels=3)
  coeffs = pywt.wavedec2(x[..., 0], 'haar', mode='periodization', level=3)
  flat = np.sort(np.abs(pywt.coeffs_to_array(coeffs)[0].ravel()))
  dropped = np.sum(flat[:-n] ** 2)
  np.testing.assert_allclose(np.sum((out[..., 0] - x[..., 0]) ** 2), dropped,
                             rtol=1e-4)


def test_more_coefficients_is_better_and_bior_beats_reference_haar():
  x = data.synthetic_image(4, (64, 64), 3)
  ours = [_psnr(baselines.wavelet_keep_n(x, n), x) for n in (300, 1200)]
  ref = [_psnr(baselines.wavelet_reference(x, n), x) for n in (300, 1200)]
  assert ours[1] > ours[0] and ref[1] > ref[0]
  assert ours[0] > ref[0]


def test_reference_budget_too_small():
  x = data.synthetic_image(4, (64, 64), 1)
  with pytest.raises(UserError, match='approximation'):
    baselines.wavelet_reference(x, 10)


def test_biharmonic_fills_a_smooth_image():
  x = data.synthetic_image(5, (32, 32), 3)
  mask = np.random.default_rng(0).uniform(size=(32, 32)) < 0.5
  y = x * mask[..., None]
  out = baselines.inpaint_biharmonic(y, mask)
  np.testing.assert_allclose(out[mask], x[mask], atol=1e-6)
  assert _psnr(out, x) > _psnr(y, x) + 10


def test_least_squares_inverts_full_mri():
  import jax
  from dd_jax.inverse import mri
  op = mri.single_coil((8, 8, 1), mask='points', accel=1.0)
  x = jax.random.uniform(jax.random.key(2), (8, 8, 1))
  out = baselines.least_squares(op, op.forward(x, {}), {}, damping=0.0)
  np.testing.assert_allclose(out, x, atol=1e-4)
