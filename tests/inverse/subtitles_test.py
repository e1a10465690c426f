"""Subtitle removal: burned-in text, the auto_text mask found in the frame,
its settings' validation and the mask a run writes."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from configs import common
from dd_jax import run as run_lib
from dd_jax.errors import UserError
from dd_jax.inverse import inpaint
from dd_jax.inverse import operators
from dd_jax.io import images as data_lib
from dd_jax.io import writers
from tests.conftest import REPO

HW = (96, 128)


def frame_and_truth(bottom=0.95, text='Hi there!', background=None):
  x = (data_lib.synthetic_image(0, HW) if background is None
       else background)
  frame, truth = inpaint.burn_subtitles(x, text, size=16, outline=1,
                                        bottom=bottom)
  return x, frame, truth


def iou(a, b) -> float:
  return float(np.sum(a & b) / np.sum(a | b))


def test_burn_subtitles_changes_only_the_text_pixels():
  x, frame, truth = frame_and_truth()
  assert frame.shape == x.shape and frame.dtype == np.float32
  np.testing.assert_array_equal(frame[~truth], x[~truth])
  assert 0.02 < truth.mean() < 0.2
  rows = np.flatnonzero(truth.any(axis=1))
  assert rows[0] > 0.7 * HW[0] and rows[-1] < 0.95 * HW[0] + 2
  gray = frame[truth].mean(axis=1)
  assert gray.max() > 0.99 and gray.min() < 0.05  # white fill, dark outline


@pytest.mark.parametrize('background', ['synthetic', 'flat'])
def test_auto_text_mask_recovers_the_rendered_text(background):
  """High IoU with the true text pixels, nearly all of them masked; a mask
  of the whole band (what a band alone would give) scores far lower."""
  bg = None if background == 'synthetic' else np.full(HW + (3,), 0.5,
                                                      np.float32)
  _, frame, truth = frame_and_truth(background=bg)
  found = ~inpaint.auto_text_mask(frame, outline=1)
  assert found.shape == HW and found.dtype == np.bool_
  assert iou(found, truth) > 0.7
  assert np.sum(found & truth) / truth.sum() > 0.95  # recall
  band = np.zeros(HW, bool)
  band[inpaint.band_rows(HW[0], (0.7, 1.0))] = True
  assert iou(band, truth) < 0.4


def test_auto_text_mask_looks_in_the_band_only():
  _, top_frame, top_truth = frame_and_truth(bottom=0.35)
  assert inpaint.auto_text_mask(top_frame).all()  # text above the band
  found = ~inpaint.auto_text_mask(top_frame, band=(0.0, 0.4), outline=1)
  assert iou(found, top_truth) > 0.7
  rows = inpaint.band_rows(HW[0], (0.0, 0.4))
  assert rows == slice(0, 39)  # ceil(0.4 * 96) = 39
  assert not found[rows.stop:].any()
  # A band that cuts the text: nothing outside it is masked.
  _, frame, truth = frame_and_truth()
  start = inpaint.band_rows(HW[0], (0.85, 1.0)).start
  assert start == 81 and truth[:start].any() and truth[start:].any()
  cut = ~inpaint.auto_text_mask(frame, band=(0.85, 1.0), outline=1)
  assert cut[start:].any() and not cut[:start].any()


def test_the_mask_operator_builds_auto_text_from_the_frame():
  _, frame, _ = frame_and_truth()
  op = inpaint.mask(frame.shape, frame, kind='auto_text', auto_outline=1)
  m = np.asarray(op.make_aux(None, 0)['mask'])
  np.testing.assert_array_equal(m, inpaint.auto_text_mask(frame, outline=1))
  np.testing.assert_array_equal(np.asarray(op.forward(frame, {'mask': m})),
                                frame * m[..., None])
  c = common.base_config('test').operator
  c.name, c.mask.kind, c.mask.auto_outline = 'mask', 'auto_text', 1
  assert 'frame' not in c.mask  # data, not a config field
  via = operators.make_operator(c, frame.shape, frame=frame)
  np.testing.assert_array_equal(via.make_aux(None, 0)['mask'], m)
  assert operators.from_frame(c)
  with pytest.raises(UserError, match='built without one'):
    operators.make_operator(c, frame.shape)  # the engine's default
  c.name, c.compose.ops = 'compose', 'blur,mask'
  with pytest.raises(UserError, match="needs operator.name='mask'"):
    operators.from_frame(c)
  c.name, c.mask.kind = 'mask', 'random'
  assert not operators.from_frame(c)


@pytest.mark.parametrize('field,value,match', [
    ('auto_band', (0.8, 0.5), r'auto_band=\(0.8, 0.5\).*0 <= top < bottom'),
    ('auto_band', (-0.1, 1.0), r'auto_band=\(-0.1, 1\)'),
    ('auto_band', (0.5, 1.2), r'auto_band=\(0.5, 1.2\)'),
    ('auto_band', (0.5,), 'auto_band must be two fractions'),
    ('auto_band', ('top', 1.0), 'auto_band must be two fractions'),
    ('auto_threshold', -0.1, r'auto_threshold must be >= 0, got -0.1'),
    ('auto_white', 1.5, r'auto_white must be in \[0, 1\]'),
    ('auto_dilation', -1, 'auto_dilation must be a whole number'),
    ('auto_outline', -2, 'auto_outline must be a whole number'),
])
def test_bad_auto_text_settings_are_user_errors(field, value, match):
  c = common.base_config('test')
  c.operator.name, c.operator.mask.kind = 'mask', 'auto_text'
  c.operator.mask[field] = value
  with pytest.raises(UserError, match=match):
    run_lib.check_settings(c)  # before any image is loaded
  _, frame, _ = frame_and_truth()
  with pytest.raises(UserError, match=match):
    inpaint.mask(frame.shape, frame, kind='auto_text', **{field: value})


def test_values_of_other_types_are_user_errors():
  """What a config's typed fields do not let through, library calls may
  pass."""
  _, frame, _ = frame_and_truth()
  for field, value in (('auto_threshold', 'high'), ('auto_white', None),
                       ('auto_band', 'bottom'), ('auto_outline', 1.5),
                       ('auto_dilation', True)):
    with pytest.raises(UserError, match=f'operator.mask.{field} must be'):
      inpaint.mask(frame.shape, frame, kind='auto_text', **{field: value})


def test_bad_auto_text_setting_is_one_error_line(tmp_path):
  env = dict(os.environ, PYTHONPATH=REPO)
  out = subprocess.run(
      [sys.executable, '-m', 'dd_jax.main', '--config=configs/inpaint.py:test',
       '--config.operator.mask.kind=auto_text',
       '--config.operator.mask.auto_band=(0.9, 0.5)',
       f'--workdir={tmp_path / "wd"}'], cwd=REPO, env=env,
      capture_output=True, text=True, timeout=600)
  assert out.returncode == 2, out.stderr[-2000:]
  errors = [l for l in out.stderr.splitlines() if l.startswith('error:')]
  assert len(errors) == 1 and 'operator.mask.auto_band' in errors[0], (
      out.stderr)
  assert 'Traceback' not in out.stderr and not (tmp_path / 'wd').exists()


def _tiny(**data):
  c = common.base_config('test')
  c.model.k, c.model.depth = 4, 2
  c.fit.steps = c.fit.log_every = 2
  c.operator.name, c.operator.noise.name = 'mask', 'none'
  c.operator.mask.kind, c.operator.mask.auto_outline = 'auto_text', 1
  c.data.size = 0
  c.data.update(data)
  return c


def test_runs_write_the_mask_they_used(tmp_path):
  """A given frame (data.measurement) is fitted masked and its mask is
  written; a simulated one (data.images) measures the loaded image with
  the mask found in it. Several frames in one run are refused."""
  _, frame, _ = frame_and_truth()
  path = str(tmp_path / 'frame.png')
  data_lib.save_png(path, frame)
  frame = data_lib.load_image(path)  # as the run reads it (8 bits)
  want = inpaint.auto_text_mask(frame, outline=1)
  for key in ('measurement', 'images'):
    wd = tmp_path / key
    summary = run_lib.run(_tiny(**{key: path}), str(wd))
    written = data_lib.load_image(str(wd / 'frame_mask.png'))
    np.testing.assert_array_equal(written[..., 0] > 0.5, want)
    corrupted = data_lib.load_image(str(wd / 'frame_corrupted.png'))
    np.testing.assert_allclose(corrupted, frame * want[..., None],
                               atol=0.5 / 255)
    rec = summary['images']['frame']
    assert rec['observed'] == pytest.approx(want.mean())
    with open(wd / 'summary.json') as f:
      assert json.load(f)['images']['frame']['observed'] == rec['observed']
  data_lib.save_png(str(tmp_path / 'frame2.png'), frame)
  with pytest.raises(UserError, match='one frame per run.*2 inputs'):
    run_lib.validate(_tiny(images=f'{path},{tmp_path / "frame2.png"}'))


def test_output_files_name_the_mask():
  assert 'a_mask.png' in writers.output_files(['a'], mask=True)
  assert 'a_mask.png' not in writers.output_files(['a'])
