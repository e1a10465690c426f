"""The workdir (checked first, never mixed, user files kept) and the writers
(atomic files, metrics flushed per record, strict JSON)."""

import json
import math
import os

import numpy as np
import pytest

from dd_jax.errors import UserError
from dd_jax.io import workdir as wd_lib
from dd_jax.io import writers


def _write(path, text):
  os.makedirs(os.path.dirname(path), exist_ok=True)
  with open(path, 'w') as f:
    f.write(text)


def _read(path):
  with open(path) as f:
    return f.read()


def _old_run(path, kept=()):
  """A finished earlier run in `path` (beside the user's `kept` files)."""
  plan = wd_lib.check(str(path), allow_other_files=bool(kept))
  wd_lib.start(plan, '{"old": true}\n')
  _write(os.path.join(path, 'a_restored.png'), 'old pixels')
  _write(os.path.join(path, 'checkpoint', 'group_0', 'meta.json'), '{}')
  wd_lib.finish(str(path))


def test_new_workdir_is_created_marked_and_finished(tmp_path):
  path = str(tmp_path / 'a' / 'b')
  plan = wd_lib.check(path, outputs=['x.png'])
  assert not os.path.exists(path) and not plan.held  # check writes nothing.
  wd_lib.start(plan, '{"c": 1}\n')
  assert sorted(os.listdir(path)) == ['.dd_jax_run', 'config.json']
  assert wd_lib.read_marker(path)['status'] == 'running'
  assert not wd_lib.is_finished(path)
  wd_lib.finish(path)
  assert wd_lib.is_finished(path)
  assert json.loads(_read(os.path.join(path, 'config.json'))) == {'c': 1}


def test_held_run_is_refused_and_left_alone(tmp_path):
  _old_run(tmp_path)
  before = {n: os.path.getmtime(tmp_path / n) for n in os.listdir(tmp_path)}
  with pytest.raises(UserError, match='already holds a run'):
    wd_lib.check(str(tmp_path))
  with pytest.raises(UserError, match='already holds a run'):
    wd_lib.check(str(tmp_path), allow_other_files=True)
  assert {n: os.path.getmtime(tmp_path / n)
          for n in os.listdir(tmp_path)} == before
  # A legacy run (config.json, no marker) and experiments' own markers.
  legacy = tmp_path / 'legacy'
  _write(str(legacy / 'config.json'), '{}')
  with pytest.raises(UserError, match='already holds a run'):
    wd_lib.check(str(legacy))
  rd = tmp_path / 'rd'
  _write(str(rd / 'results.jsonl'), '')
  with pytest.raises(UserError, match='pass --resume'):
    wd_lib.check(str(rd), markers=('results.jsonl',),
                 other_way='pass --resume')


def test_unfinished_run_is_named_so(tmp_path):
  wd_lib.start(wd_lib.check(str(tmp_path)), '{}')
  with pytest.raises(UserError, match='unfinished'):
    wd_lib.check(str(tmp_path))


def test_overwrite_moves_the_old_run_aside_whole_then_removes_it(
    tmp_path, monkeypatch):
  """When the new config.json is written the folder holds only the new
  marker and the hidden folder with ALL of the old run; after it, nothing
  of the old run is left."""
  _old_run(tmp_path)
  old = sorted(os.listdir(tmp_path))
  plan = wd_lib.check(str(tmp_path), overwrite=True)
  assert sorted(os.listdir(tmp_path)) == old  # check moved nothing.
  seen = {}
  write_text = writers.write_text

  def spy(path, text):
    if path.endswith('config.json'):
      here = sorted(os.listdir(tmp_path))
      aside = [n for n in here if n.startswith('.dd_jax_replaced')]
      seen['here'] = [n for n in here if n not in aside]
      seen['aside'] = sorted(os.listdir(tmp_path / aside[0]))
    write_text(path, text)

  monkeypatch.setattr(writers, 'write_text', spy)
  wd_lib.start(plan, '{"new": true}\n')
  assert seen['here'] == ['.dd_jax_run']
  assert seen['aside'] == old
  assert sorted(os.listdir(tmp_path)) == ['.dd_jax_run', 'config.json']
  assert json.loads(_read(tmp_path / 'config.json')) == {'new': True}


def test_interrupted_overwrite_leaves_the_old_run_marked(tmp_path,
                                                         monkeypatch):
  """The marker and config.json move last: a move cut short leaves a folder
  still marked as the old run (refused without overwrite); the next
  overwrite finishes the job and removes every leftover."""
  _old_run(tmp_path)
  rename, count = os.rename, [0]

  def failing(a, b):
    count[0] += 1
    if count[0] == 2:
      raise KeyboardInterrupt
    rename(a, b)

  monkeypatch.setattr(os, 'rename', failing)
  with pytest.raises(KeyboardInterrupt):
    wd_lib.start(wd_lib.check(str(tmp_path), overwrite=True), '{}')
  monkeypatch.setattr(os, 'rename', rename)
  assert 'config.json' in os.listdir(tmp_path)
  with pytest.raises(UserError, match='already holds a run'):
    wd_lib.check(str(tmp_path))
  wd_lib.start(wd_lib.check(str(tmp_path), overwrite=True), '{"n": 2}')
  assert sorted(os.listdir(tmp_path)) == ['.dd_jax_run', 'config.json']


def test_other_files_are_refused_or_kept_never_replaced(tmp_path):
  _write(str(tmp_path / 'photo.png'), 'mine')
  _write(str(tmp_path / 'notes.txt'), 'mine too')
  with pytest.raises(UserError, match='not a dd_jax run.*allow_other_files'):
    wd_lib.check(str(tmp_path))
  with pytest.raises(UserError, match=r'not a dd_jax run.*--workdir\.$'):
    wd_lib.check(str(tmp_path), allow_other_files=None)  # No such option.
  with pytest.raises(UserError, match="'photo.png'.*never replaced"):
    wd_lib.check(str(tmp_path), allow_other_files=True,
                 outputs=['PHOTO.png'])  # Case aside (macOS, Windows).
  plan = wd_lib.check(str(tmp_path), allow_other_files=True,
                      outputs=['photo_restored.png'])
  assert plan.kept == ('notes.txt', 'photo.png')
  wd_lib.start(plan, '{}')
  _write(str(tmp_path / 'photo_restored.png'), 'a result')
  # Overwriting that run later moves the run's files only.
  wd_lib.start(wd_lib.check(str(tmp_path), overwrite=True), '{"n": 2}')
  assert sorted(os.listdir(tmp_path)) == ['.dd_jax_run', 'config.json',
                                          'notes.txt', 'photo.png']
  assert _read(tmp_path / 'photo.png') == 'mine'
  assert wd_lib.read_marker(str(tmp_path))['kept'] == ['notes.txt',
                                                       'photo.png']


def test_places_that_cannot_be_a_workdir(tmp_path):
  _write(str(tmp_path / 'f'), 'x')
  with pytest.raises(UserError, match='is a file'):
    wd_lib.check(str(tmp_path / 'f'))
  with pytest.raises(UserError, match='cannot be created.*is a file'):
    wd_lib.check(str(tmp_path / 'f' / 'sub' / 'run'))
  with pytest.raises(UserError, match='Give --workdir'):
    wd_lib.check('')


@pytest.mark.skipif(os.geteuid() == 0, reason='root writes anywhere')
def test_read_only_folder_is_refused(tmp_path):
  ro = tmp_path / 'ro'
  ro.mkdir()
  ro.chmod(0o555)
  try:
    with pytest.raises(UserError, match='cannot write'):
      wd_lib.check(str(ro))
    with pytest.raises(UserError, match='cannot write'):
      wd_lib.check(str(ro / 'run'))
  finally:
    ro.chmod(0o755)


def test_start_turns_os_errors_into_one_line(tmp_path, monkeypatch):
  def refuse(*args, **kwargs):
    raise PermissionError(13, 'Permission denied')

  monkeypatch.setattr(os, 'makedirs', refuse)
  with pytest.raises(UserError, match='Permission denied'):
    wd_lib.start(wd_lib.Plan(str(tmp_path / 'x')), '{}')


# ------------------------------------------------------------------ writers
def test_atomic_path_replaces_whole_or_not_at_all(tmp_path):
  path = str(tmp_path / 'out.txt')
  writers.write_text(path, 'first')
  with pytest.raises(RuntimeError):
    with writers.atomic_path(path) as tmp:
      assert tmp.endswith('.txt') and os.path.dirname(tmp) == str(tmp_path)
      with open(tmp, 'w') as f:
        f.write('half')
      raise RuntimeError('interrupted')
  assert _read(path) == 'first'
  assert os.listdir(tmp_path) == ['out.txt']  # No temporary file left.
  writers.write_text(path, 'second')
  assert _read(path) == 'second'
  umask = os.umask(0)
  os.umask(umask)
  assert os.stat(path).st_mode & 0o777 == 0o666 & ~umask


def test_strict_json_has_null_for_nan_and_inf(tmp_path):
  obj = {'a': float('nan'), 'b': [np.float32(np.inf), np.float32(1.5)],
         'c': np.arange(2), 'd': (np.int64(3), -math.inf), 'e': 'ok'}
  text = writers.to_json(obj)
  assert json.loads(text) == {'a': None, 'b': [None, 1.5], 'c': [0, 1],
                              'd': [3, None], 'e': 'ok'}

  def refuse(name):
    raise ValueError(name)

  json.loads(text, parse_constant=refuse)  # No NaN / Infinity tokens.
  writers.write_json(str(tmp_path / 's.json'), obj)
  json.loads(_read(tmp_path / 's.json'), parse_constant=refuse)


def test_metrics_log_appends_and_flushes_each_record(tmp_path):
  path = str(tmp_path / 'metrics.jsonl')
  log = writers.MetricsLog(path)
  assert _read(path) == ''
  log.append({'step': 1, 'loss': [0.5]})
  assert [json.loads(l) for l in _read(path).splitlines()] == [
      {'step': 1, 'loss': [0.5]}]  # On disk before the next record.
  log.append({'step': 2, 'loss': [float('nan')]})
  assert [json.loads(l)['loss'] for l in _read(path).splitlines()] == [
      [0.5], [None]]


def test_summary_text_takes_null_values():
  summary = {'images': {'a': {'psnr_restored': None, 'ssim_restored': None,
                              'psnr_corrupted': 20.0, 'finite': False,
                              'stop_step': None}}, 'seconds': 1.0}
  text = writers.summary_text(summary)
  assert 'a: PSNR 20.00 dB -> n/a, SSIM n/a' in text
  assert 'non-finite' in text


def test_output_files_names_every_image_output():
  assert writers.output_files(['a'], ema=True) == [
      'metrics.jsonl', 'summary.json', 'summary.txt', 'psnr.png',
      'a_clean.png', 'a_corrupted.png', 'a_restored.png', 'a_ema.png']
