"""Given measurements with their references (data.reference, data.pair):
pairing, its errors, alignment, and a reference that only feeds the metrics."""

import json
import os

import jax.numpy as jnp
import numpy as np
import pytest

from configs import common
from configs import mri_complex
from dd_jax import run as run_lib
from dd_jax.errors import UserError
from dd_jax.inverse import operators
from dd_jax.io import images as data
from dd_jax.io import inputs
from tests.main_test import launch

PAIR = '*_real.*:*_mean.*'


def touch_png(path, hw=(16, 16), seed=0):
  data.save_png(str(path), data.synthetic_image(seed, hw))
  return str(path)


def noisy(x, seed=0):
  rng = np.random.default_rng(seed)
  return np.clip(x + 0.1 * rng.normal(size=x.shape), 0, 1).astype(np.float32)


def tiny(measurement, reference='', pair='', operator='identity'):
  c = common.base_config('test')
  c.model.k, c.model.depth = 4, 2
  c.fit.steps, c.fit.log_every = 4, 2
  c.operator.name = operator
  c.data.measurement, c.data.reference, c.data.pair = (measurement,
                                                       reference, pair)
  return c


# ------------------------------------------------------------------ pairing
def test_pair_by_pattern_in_one_folder(tmp_path):
  for stem in ('b', 'a'):
    touch_png(tmp_path / f'{stem}_real.png')
    touch_png(tmp_path / f'{stem}_mean.png')
  (tmp_path / 'notes.txt').write_text('neither pattern: left alone\n')
  ms, refs = inputs.pair_sources(str(tmp_path), '', PAIR)
  assert [os.path.basename(m) for m in ms] == ['a_real.png', 'b_real.png']
  assert [os.path.basename(r) for r in refs] == ['a_mean.png', 'b_mean.png']
  assert {os.path.dirname(r) for r in refs} == {str(tmp_path)}


def test_pair_by_name_across_folders(tmp_path):
  (tmp_path / 'noisy').mkdir()
  (tmp_path / 'clean').mkdir()
  for name in ('x.png', 'y.png'):
    touch_png(tmp_path / 'noisy' / name)
    touch_png(tmp_path / 'clean' / name)
  ms, refs = inputs.pair_sources(str(tmp_path / 'noisy'),
                                 str(tmp_path / 'clean'), '*.png:*.png')
  assert [os.path.relpath(r, tmp_path) for r in refs] == [
      os.path.join('clean', 'x.png'), os.path.join('clean', 'y.png')]
  assert [os.path.basename(m) for m in ms] == ['x.png', 'y.png']


def test_files_paired_in_order(tmp_path):
  ms = [touch_png(tmp_path / f'm{i}.png') for i in range(2)]
  refs = [touch_png(tmp_path / f'r{i}.png') for i in range(2)]
  got = inputs.pair_sources(','.join(ms), ','.join(refs))
  assert got == (ms, refs)
  assert inputs.pair_sources(ms[0], 'astronaut') == ([ms[0]], ['astronaut'])
  assert inputs.pair_sources(ms[0]) == ([ms[0]], None)


def test_unpaired_files_are_one_error_naming_them(tmp_path):
  touch_png(tmp_path / 'a_real.png')
  touch_png(tmp_path / 'a_mean.png')
  touch_png(tmp_path / 'b_real.png')   # no b_mean
  touch_png(tmp_path / 'c_mean.png')   # no c_real
  with pytest.raises(UserError) as e:
    inputs.pair_sources(str(tmp_path), '', PAIR)
  msg = str(e.value)
  assert '\n' not in msg
  assert 'Unpaired files' in msg
  assert '1 measurement(s) without a reference' in msg
  assert 'b_real.png (no b_mean.png in' in msg
  assert '1 reference(s) without a measurement' in msg
  assert 'c_mean.png' in msg and 'a_real' not in msg
  assert 'fix data.pair' in msg


def test_count_mismatch_and_missing_reference(tmp_path):
  ms = ','.join(touch_png(tmp_path / f'm{i}.png') for i in range(2))
  with pytest.raises(UserError, match=r'lists 1 image\(s\) for 2 measure'):
    inputs.pair_sources(ms, touch_png(tmp_path / 'r.png'))
  with pytest.raises(UserError, match="not found.*'.*nope.png'"):
    inputs.pair_sources(ms, f'{tmp_path}/r.png,{tmp_path}/nope.png')


@pytest.mark.parametrize('pair, reference, message', [
    ('*_real.*', '', 'not two patterns'),
    ('*_real.*:', '', 'not two patterns'),
    ('a/*.png:*.png', '', 'holds a folder'),
    ('*_real.*:mean.png', '', "have 2 and 0 '\\*'"),
    ('*.png:*_mean.png', '', 'match\\(es\\) both patterns'),
    (PAIR, 'r.png', 'is not a folder'),
    ('*_noisy.png:*.png', '', 'No file in the data.measurement folder'),
])
def test_bad_pairing_rules(tmp_path, pair, reference, message):
  touch_png(tmp_path / 'a_real.png')
  touch_png(tmp_path / 'a_mean.png')
  touch_png(tmp_path / 'r.png')
  with pytest.raises(UserError, match=message):
    inputs.pair_sources(str(tmp_path), reference and str(tmp_path / reference),
                        pair)


def test_reference_needs_a_measurement():
  c = common.base_config('test')
  c.data.reference = 'astronaut'
  with pytest.raises(UserError, match='data.measurement is not'):
    run_lib.check_settings(c)


# ----------------------------------------------------------- loading, shapes
def test_reference_of_another_shape_is_refused(tmp_path):
  m = touch_png(tmp_path / 'm.png', (16, 16))
  r = touch_png(tmp_path / 'r.png', (16, 24))
  with pytest.raises(UserError, match=r"'.*r.png' is 16x24x3, but "
                     r"measurement '.*m.png' \(16x16x3\) is of a 16x16x3"):
    inputs.load_inputs(tiny(m, r))
  # Super-resolution: the reference is the factor larger than the measurement.
  c = tiny(m, r, operator='downsample')
  c.operator.downsample.factor = 2
  c.operator.noise.name = 'none'
  with pytest.raises(UserError, match='is of a 32x32x3 image'):
    inputs.load_inputs(c)
  c.data.reference = touch_png(tmp_path / 'big.png', (32, 32))
  inp = inputs.load_inputs(c)
  assert inp.clean[0].shape == (32, 32, 3) and inp.given[0].shape == (16, 16, 3)


@pytest.mark.parametrize('operator, factor', [('identity', 1),
                                              ('downsample', 2)])
def test_reference_cropped_with_its_measurement(tmp_path, operator, factor):
  """A 9x11 measurement (a multiple of 2 needed) is cropped to 8x10 at
  offset (0, 0); its reference at the same place of the image, not at its
  own centre (which for x2, 18x22 -> 16x20, would be offset (1, 1))."""
  y = data.synthetic_image(1, (9, 11))
  x = data.synthetic_image(2, (9 * factor, 11 * factor))
  data.save_png(str(tmp_path / 'y.png'), y)
  data.save_png(str(tmp_path / 'x.png'), x)
  c = tiny(str(tmp_path / 'y.png'), str(tmp_path / 'x.png'), operator=operator)
  c.operator.downsample.factor = factor
  c.operator.noise.name = 'none'
  c.model.depth = 2 if factor == 1 else 3  # images: multiples of 2 or 4
  inp = inputs.load_inputs(c)
  want_y = data.load_image(str(tmp_path / 'y.png'))[:8, :10]
  want_x = data.load_image(str(tmp_path / 'x.png'))[:8 * factor, :10 * factor]
  np.testing.assert_array_equal(inp.given[0], want_y)
  np.testing.assert_array_equal(inp.clean[0], want_x)
  assert inp.references == [str(tmp_path / 'x.png')]


def test_complex_kspace_with_its_complex_reference(tmp_path):
  """MRI: given k-space; its reference is the complex image (.npy), as
  real/imaginary channel pairs of the k-space's size."""
  c = mri_complex.get_config('test')
  x, _ = data.load_input('shepp_logan', size=16, channels='gray',
                         complex_valued=True, phase='smooth')
  op = operators.make_operator(c.operator, x.shape, complex_valued=True)
  k = np.asarray(op.forward(jnp.asarray(x), {}))
  np.save(tmp_path / 'k.npy', k[:, :, 0, 0] + 1j * k[:, :, 0, 1])
  np.save(tmp_path / 'x.npy', data.to_complex(x)[..., 0])
  c.data.measurement, c.data.reference = (str(tmp_path / 'k.npy'),
                                          str(tmp_path / 'x.npy'))
  assert c.data.phase == 'smooth'  # for simulating; a reference is as it is
  inp = run_lib.validate(c)
  assert inp.given[0].shape == (16, 16, 1, 2)
  np.testing.assert_allclose(inp.clean[0], x, atol=1e-6)
  c.data.complex, c.model.output = False, 'sigmoid'
  with pytest.raises(UserError, match='NumPy array'):
    inputs.load_inputs(c)


# --------------------------------------------------- metrics only, end to end
def test_reference_only_feeds_the_metrics(tmp_path):
  """The same run with and without a reference restores bit-identically
  and logs the same losses; only the reference run has PSNR / SSIM."""
  x = data.synthetic_image(3, (16, 16))
  data.save_png(str(tmp_path / 'clean.png'), x)
  data.save_png(str(tmp_path / 'noisy.png'), noisy(x))
  m, r = str(tmp_path / 'noisy.png'), str(tmp_path / 'clean.png')
  without, given = inputs.load_inputs(tiny(m)), inputs.load_inputs(tiny(m, r))
  np.testing.assert_array_equal(without.given[0], given.given[0])
  assert without.clean is None and given.clean[0].shape == x.shape
  blind = run_lib.run(tiny(m), str(tmp_path / 'blind'))
  ref = run_lib.run(tiny(m, r), str(tmp_path / 'ref'))
  restored = [data.load_image(str(tmp_path / w / 'noisy_restored.png'))
              for w in ('blind', 'ref')]
  np.testing.assert_array_equal(*restored)

  def losses(w):
    with open(tmp_path / w / 'metrics.jsonl') as f:
      return [json.loads(line) for line in f]
  a, b = losses('blind'), losses('ref')
  assert [r['loss'] for r in a] == [r['loss'] for r in b]
  assert 'psnr' not in a[0] and 'psnr' in b[0]
  assert 'psnr_restored' not in blind['images']['noisy']
  rec = ref['images']['noisy']
  assert rec['psnr_restored'] > 0 and 0 < rec['ssim_restored'] <= 1
  assert rec['psnr_corrupted'] == pytest.approx(
      float(-10 * np.log10(np.mean((data.load_image(m) - x) ** 2))), abs=0.01)
  assert ref['references'] == {'noisy': r}
  assert os.path.isfile(tmp_path / 'ref' / 'noisy_clean.png')
  assert not os.path.exists(tmp_path / 'blind' / 'noisy_clean.png')


def test_main_with_paired_folders_reports_psnr(tmp_path):
  """`python -m dd_jax.main` on a real-noise style folder pair."""
  (tmp_path / 'noisy').mkdir()
  (tmp_path / 'clean').mkdir()
  x = data.synthetic_image(4, (32, 32))
  data.save_png(str(tmp_path / 'noisy' / 'cup_real.png'), noisy(x))
  data.save_png(str(tmp_path / 'clean' / 'cup_mean.png'), x)
  wd = tmp_path / 'run'
  out = launch('--config=configs/denoise.py:test', f'--workdir={wd}',
               f'--config.data.measurement={tmp_path}/noisy',
               f'--config.data.reference={tmp_path}/clean',
               f'--config.data.pair={PAIR}', '--config.fit.steps=10',
               '--config.fit.log_every=5')
  assert out.returncode == 0, out.stderr[-3000:]
  summary = json.loads((wd / 'summary.json').read_text())
  rec = summary['images']['cup_real']
  assert rec['psnr_restored'] > 10 and 'psnr_corrupted' in rec
  assert summary['references'] == {
      'cup_real': str(tmp_path / 'clean' / 'cup_mean.png')}
  text = (wd / 'summary.txt').read_text()
  assert 'cup_real: PSNR' in text and '->' in text
  records = [json.loads(l) for l in (wd / 'metrics.jsonl').read_text()
             .splitlines()]
  assert [r['step'] for r in records] == [5, 10] and 'psnr' in records[0]
  assert (wd / 'cup_real_clean.png').is_file()

  # Unpaired: one error line, no traceback, no workdir.
  data.save_png(str(tmp_path / 'noisy' / 'mug_real.png'), x)
  bad = launch('--config=configs/denoise.py:test', f'--workdir={wd}2',
               f'--config.data.measurement={tmp_path}/noisy',
               f'--config.data.reference={tmp_path}/clean',
               f'--config.data.pair={PAIR}')
  assert bad.returncode == 2
  errors = [l for l in bad.stderr.splitlines() if l.startswith('error:')]
  assert len(errors) == 1 and 'mug_real.png (no mug_mean.png' in errors[0]
  assert 'Traceback' not in bad.stderr
  assert not os.path.exists(f'{wd}2')
