"""End to end: a tiny complex MRI fit through `dd_jax.run` (what
`dd_jax.main` calls) writes magnitude / phase PNGs and the complex .npy, and
its summary scores the magnitude and the complex error."""

import json
import os

import jax.numpy as jnp
import numpy as np
import pytest

from configs import mri_complex
from dd_jax import run as run_lib
from dd_jax.errors import UserError
from dd_jax.inverse import operators
from dd_jax.io import images


def test_complex_fit_writes_magnitude_phase_and_npy(tmp_path):
  config = mri_complex.get_config('test,coils=8')
  assert config.data.complex and config.model.output == 'tanh'
  wd = str(tmp_path / 'run')
  summary = run_lib.run(config, wd)
  files = set(os.listdir(wd))
  for kind in ('clean', 'restored'):
    for end in ('_magnitude.png', '_phase.png', '.npy'):
      assert f'shepp_logan_{kind}{end}' in files, (kind, end)
  assert 'shepp_logan_restored.png' not in files
  restored = np.load(os.path.join(wd, 'shepp_logan_restored.npy'))
  clean = np.load(os.path.join(wd, 'shepp_logan_clean.npy'))
  assert restored.shape == clean.shape == (32, 32)
  assert restored.dtype == np.complex64
  mag = images.load_image(
      os.path.join(wd, 'shepp_logan_restored_magnitude.png'))
  np.testing.assert_allclose(mag[..., 0], np.clip(np.abs(restored), 0, 1),
                             atol=1e-4)
  # The summary's numbers, again from the written arrays in float64.
  rec = json.load(open(os.path.join(wd, 'summary.json')))['images'][
      'shepp_logan']
  assert rec == summary['images']['shepp_logan']
  want = 10 * np.log10(1 / np.mean((np.abs(restored.astype(np.complex128)) -
                                    np.abs(clean)) ** 2))
  np.testing.assert_allclose(rec['psnr_restored'], want, atol=1e-3)
  r, c = restored.astype(np.complex128), clean.astype(np.complex128)
  np.testing.assert_allclose(rec['complex']['rel_l2_error'],
                             np.linalg.norm(r - c) / np.linalg.norm(c),
                             rtol=1e-5)
  inside = np.abs(c) > 0.1 * np.abs(c).max()
  np.testing.assert_allclose(rec['complex']['phase_error_rad'],
                             np.abs(np.angle(r * np.conj(c)))[inside].mean(),
                             rtol=1e-4)
  assert rec['complex']['psnr_ssim_of'] == 'magnitude'
  # metrics.jsonl's PSNR is of the magnitude too; the fit made progress.
  records = [json.loads(l) for l in open(os.path.join(wd, 'metrics.jsonl'))]
  np.testing.assert_allclose(records[-1]['psnr'][0], rec['psnr_restored'],
                             atol=1e-3)
  assert records[-1]['loss'][0] < records[0]['loss'][0]
  assert 'PSNR of the magnitude' in open(
      os.path.join(wd, 'summary.txt')).read()


def test_given_complex_kspace_validates(tmp_path):
  """Given single-coil k-space of a complex image (no clean image): the
  image shape, channel pairs [H, W, 2], follows from it, and one fit step
  on it traces (run.validate; nothing is written)."""
  config = mri_complex.get_config('test')
  x, _ = images.load_input('shepp_logan', size=32, channels='gray',
                           complex_valued=True, phase='smooth')
  op = operators.make_operator(config.operator, x.shape, complex_valued=True)
  k = np.asarray(op.forward(jnp.asarray(x), {}))
  np.save(tmp_path / 'kspace.npy', k[:, :, 0, 0] + 1j * k[:, :, 0, 1])
  config.data.measurement = str(tmp_path / 'kspace.npy')
  inputs = run_lib.validate(config)
  assert inputs.clean is None and inputs.given[0].shape == (32, 32, 1, 2)
  assert operators.image_shape_for(config.operator, (32, 32, 1, 2),
                                   complex_valued=True) == (32, 32, 2)
  assert sorted(os.listdir(tmp_path)) == ['kspace.npy']


@pytest.mark.parametrize('field, value, message', [
    ('model.output', 'sigmoid', "data.complex=True needs model.output="
                                "'linear' or 'tanh'"),
    ('operator.name', 'blur', "one of ['mri', 'mri_multicoil']"),
    ('model.output', 'relu', 'Unknown model.output'),
])
def test_bad_setting_is_one_clear_line(tmp_path, field, value, message):
  config = mri_complex.get_config('test')
  section, name = field.split('.')
  config[section][name] = value
  with pytest.raises(UserError) as e:
    run_lib.run(config, str(tmp_path / 'run'))
  assert message in str(e.value) and '\n' not in str(e.value)
  assert not os.path.exists(tmp_path / 'run')  # validated before writing
