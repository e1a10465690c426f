"""Bad inputs through the real launcher: exit 2, one `error:` line, no
traceback, and every file of the workdir and of the inputs as it was.

Each case runs `python -m dd_jax.main --config=configs/denoise.py:test ...`.
To keep ~60 cases fast, one helper process (this file run as a script)
imports the libraries once and forks a child per case that runs the
launcher module as `__main__` with the case's argv: what `python -m
dd_jax.main` does, less the seconds of importing JAX each time. Every case
is found by validation, before anything is compiled or written.
"""

import hashlib
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from tests.conftest import REPO

BASE = ('--config=configs/denoise.py:test', '--config.data.size=0')
OK = '--config.data.images={in}/ok.png'
MEASURED = '--config.data.measurement={in}/ok.png'
PAIRED = '--config.data.pair=*_real.*:*_mean.*'

# (id, arguments (BASE first unless a --config= is given; {in} = the inputs
# folder, {wd} = the case's workdir), the workdir's set-up, a part of the
# one error line). Set-ups: None (absent), 'held' (an earlier run), 'other'
# (a user's files), 'clash' (a user's file named like an output), 'file'.
CASES = [
    # Files: missing, empty, truncated, not images, wrong kind.
    ('missing_image', ['--config.data.images={in}/nope.png'], None,
     'neither a file nor a built-in'),
    ('empty_image', ['--config.data.images={in}/empty.png'], None,
     "empty.png': not an image"),
    ('truncated_png', ['--config.data.images={in}/trunc.png'], None,
     "trunc.png': image file is truncated"),
    ('text_as_png', ['--config.data.images={in}/fake.png'], None,
     "fake.png': not an image"),
    ('text_file', ['--config.data.images={in}/notes.txt'], None,
     "notes.txt': not an image"),
    ('npy_as_image', ['--config.data.images={in}/arr.npy'], None,
     'data.measurement'),
    ('folder_without_images', ['--config.data.images={in}/no_images'], None,
     'holds no images'),
    ('no_images', ['--config.data.images='], None, 'No images given'),
    ('missing_measurement', ['--config.data.measurement={in}/nope.npy'],
     None, 'Measurement file not found'),
    ('truncated_npy', ['--config.data.measurement={in}/trunc.npy'], None,
     'trunc.npy'),
    ('nan_measurement', ['--config.data.measurement={in}/nan.npy'], None,
     'NaN'),
    ('image_smaller_than_model', ['--config.data.images={in}/tiny.png'],
     None, 'smaller'),
    ('not_multiple_no_crop', [OK.replace('ok', 'odd'),
                              '--config.data.crop=False'], None,
     'data.crop=True'),
    # Masks and other operator files.
    ('missing_mask', [OK, '--config.operator.name=mask',
                      '--config.operator.mask.kind={in}/nope.png'], None,
     'Mask file not found'),
    ('mask_not_an_image', [OK, '--config.operator.name=mask',
                           '--config.operator.mask.kind={in}/fake.png'],
     None, "fake.png': not an image"),
    ('mask_smaller_than_image', [OK, '--config.operator.name=mask',
                                 '--config.operator.mask.kind={in}/tiny.png'],
     None, 'smaller than the image'),
    ('mask_observes_nothing', [OK, '--config.operator.name=mask',
                               '--config.operator.mask.kind={in}/zeros.png'],
     None, 'observes no pixel'),
    ('random_mask_for_real_data', ['--config.data.measurement={in}/ok.png',
                                   '--config.operator.name=mask'], None,
     'own mask'),
    ('cs_with_image_measurement', ['--config.data.measurement={in}/ok.png',
                                   '--config.operator.name=cs_gaussian'],
     None, 'image shape'),
    # References of given measurements (data.reference, data.pair).
    ('reference_without_measurement', [OK, '--config.data.reference='
                                           '{in}/ok.png'], None,
     'data.measurement is not'),
    ('missing_reference', [MEASURED, '--config.data.reference={in}/nope.png'],
     None, 'Reference file(s) not found'),
    ('reference_count_mismatch', [
        MEASURED, '--config.data.reference={in}/ok.png,{in}/odd.png'], None,
     'lists 2 image(s) for 1 measurement(s)'),
    ('reference_of_another_size', [
        MEASURED, '--config.data.reference={in}/odd.png'], None,
     'is 12x12x3, but measurement'),
    ('unpaired_files', ['--config.data.measurement={in}/pairs', PAIRED],
     None, 'b_real.png (no b_mean.png in'),
    ('pair_not_two_patterns', ['--config.data.measurement={in}/pairs',
                               '--config.data.pair=*_real.*'], None,
     'not two patterns'),
    ('missing_blur_kernel', [OK, '--config.operator.name=blur',
                             '--config.operator.blur.kind={in}/nope.npy'],
     None, 'nope.npy'),
    # Unknown names.
    ('unknown_operator', [OK, '--config.operator.name=bogus'], None,
     'operator.name'),
    ('unknown_upsample', [OK, '--config.model.upsample=bogus'], None,
     'model.upsample'),
    ('unknown_activation', [OK, '--config.model.activation=bogus'], None,
     'model.activation'),
    ('unknown_model', [OK, '--config.model.name=bogus'], None, 'model.name'),
    ('unknown_input_kind', [OK, '--config.model.input_kind=bogus'], None,
     'model.input_kind'),
    ('unknown_loss', [OK, '--config.fit.loss=bogus'], None, 'fit.loss'),
    ('bad_loss_sum', [OK, '--config.fit.loss=0.5*mse+x*l1'], None,
     'fit.loss'),
    ('unknown_optimizer', [OK, '--config.optim.name=adamm'], None,
     'optim.name'),
    ('unknown_schedule', [OK, '--config.optim.schedule=bogus'], None,
     'optim.schedule'),
    ('unknown_stop', [OK, '--config.fit.stop=bogus'], None, 'fit.stop'),
    ('unknown_noise', [OK, '--config.operator.noise.name=bogus'], None,
     'operator.noise.name'),
    ('unknown_blur_boundary', [OK, '--config.operator.name=blur',
                               '--config.operator.blur.boundary=bogus'],
     None, 'operator.blur.boundary'),
    ('unknown_mask_normalize', [OK, '--config.operator.name=mask',
                                '--config.operator.mask.normalize=bogus'],
     None, 'operator.mask.normalize'),
    ('unknown_channels', [OK, '--config.data.channels=cmyk'], None,
     'data.channels'),
    ('empty_compose', [OK, '--config.operator.name=compose'], None,
     'operator.compose.ops'),
    ('unknown_field', [OK, '--config.model.kk=3'], None,
     "unknown config field 'kk'"),
    ('unknown_field_with_hint', [OK, '--config.model.deph=3'], None,
     "did you mean 'depth'"),
    ('operator_field_moved', [OK, '--config.operator.observed=0.3'], None,
     "unknown config field 'observed'"),
    ('unknown_section', [OK, '--config.modle.k=3'], None,
     "unknown config field 'modle'"),
    ('unknown_preset', ['--config=configs/denoise.py:bogus', OK], None,
     "Unknown config preset 'bogus'"),
    ('missing_config_file', ['--config=configs/nope.py', OK], None,
     'config file not found'),
    ('unknown_flag', [OK, '--bogus_flag=1'], None, 'bogus_flag'),
    ('positional_argument', [OK, 'extra'], None, 'extra'),
    # Bad types.
    ('k_not_a_number', [OK, '--config.model.k=abc'], None, 'invalid literal'),
    ('steps_not_whole', [OK, '--config.fit.steps=1.5'], None, 'fit.steps'),
    ('lr_not_a_number', [OK, '--config.optim.lr=fast'], None, 'optim.lr'),
    ('crop_not_a_bool', [OK, '--config.data.crop=maybe'], None,
     'data.crop'),
    # Bad values.
    ('zero_steps', [OK, '--config.fit.steps=0'], None, 'fit.steps'),
    ('negative_steps', [OK, '--config.fit.steps=-5'], None, 'fit.steps'),
    ('zero_log_every', [OK, '--config.fit.log_every=0'], None,
     'fit.log_every'),
    ('negative_size', [OK, '--config.data.size=-1'], None, 'data.size'),
    ('size_below_model', [OK, '--config.data.size=4'], None, 'data.size=4'),
    ('negative_lr', [OK, '--config.optim.lr=-0.01'], None, 'optim.lr'),
    ('negative_k', [OK, '--config.model.k=-8'], None, 'model.k must be >= 0'),
    # model.k=0 is the automatic width: denoising only, not with a saved init.
    ('auto_k_downsample', [OK, '--config.model.k=0',
                           '--config.operator.name=downsample'], None,
     "automatic width) reads the noise level off a noisy image"),
    ('auto_k_init_from', [OK, '--config.model.k=0',
                          '--config.model.init_from={in}'], None,
     'a saved init fixes the width'),
    ('even_conv_size', [OK, '--config.model.conv_size=2'], None,
     'model.conv_size'),
    ('observed_zero', [OK, '--config.operator.name=mask',
                       '--config.operator.mask.observed=0'], None,
     'operator.mask.observed'),
    ('holdout_too_big', [OK, '--config.fit.stop=validation',
                         '--config.fit.holdout=2'], None, 'fit.holdout'),
    ('negative_jitter', [OK, '--config.fit.jitter_std=-1'], None,
     'fit.jitter_std'),
    ('jitter_decay_zero', [OK, '--config.fit.jitter_std=0.1',
                           '--config.fit.jitter_decay_every=0'], None,
     'fit.jitter_decay_every'),
    ('negative_noise', [OK, '--config.operator.noise.sigma=-0.1'], None,
     'operator.noise.sigma'),
    ('cs_ratio_below_one', [OK, '--config.operator.name=cs_gaussian',
                            '--config.operator.cs.ratio=0.5'], None,
     'operator.cs.ratio'),
    ('sr_factor_zero', [OK, '--config.operator.name=downsample',
                        '--config.operator.downsample.factor=0'], None,
     'factor'),
    # Complex images and the output nonlinearity.
    ('unknown_output', [OK, '--config.model.output=relu'], None,
     "Unknown model.output 'relu'"),
    ('complex_with_sigmoid', ['--config=configs/mri_complex.py:test',
                              '--config.model.output=sigmoid'], None,
     "needs model.output='linear' or 'tanh'"),
    ('complex_with_real_operator', [OK, '--config.data.complex=True',
                                    '--config.model.output=tanh'], None,
     'an operator that measures complex images'),
    ('phase_without_complex', [OK, '--config.data.phase=smooth'], None,
     'needs data.complex=True'),
    ('unknown_phase', ['--config=configs/mri_complex.py:test',
                       '--config.data.phase=spiral'], None, 'data.phase'),
    ('complex_magnitude_above_one', [
        '--config=configs/mri_complex.py:test',
        '--config.data.images={in}/big_complex.npy'], None,
     'divide it by its largest magnitude'),
    # Workdirs.
    ('workdir_empty', [OK, '--workdir='], 'none', 'Give --workdir'),
    ('workdir_is_a_file', [OK], 'file', 'is a file'),
    ('workdir_under_a_file', [OK, '--workdir={wd}/run'], 'file',
     'is a file'),
    ('workdir_holds_a_run', [OK], 'held', 'already holds a run'),
    ('overwrite_with_a_bad_config', [OK, '--config.output.overwrite=True',
                                     '--config.fit.steps=0'], 'held',
     'fit.steps'),
    ('overwrite_with_a_missing_file', ['--config.output.overwrite=True',
                                       '--config.data.images={in}/nope.png'],
     'held', 'neither a file nor a built-in'),
    ('workdir_holds_other_files', [OK], 'other', 'not a dd_jax run'),
    ('inputs_folder_as_workdir', [OK, '--workdir={in}'], 'none',
     'not a dd_jax run'),
    ('other_files_with_a_clashing_name', [
        OK, '--config.output.allow_other_files=True'], 'clash',
     "'ok_clean.png'"),
]


# ------------------------------------------------------------------ fixtures
def _png(path, arr):
  from PIL import Image
  Image.fromarray(arr).save(path)


def make_inputs(folder):
  """The inputs every case may name, good and bad."""
  os.makedirs(folder)
  rng = np.random.default_rng(0)
  ok = rng.integers(0, 256, (16, 16, 3), dtype=np.uint8)
  _png(os.path.join(folder, 'ok.png'), ok)
  _png(os.path.join(folder, 'odd.png'), ok[:12, :12])
  _png(os.path.join(folder, 'tiny.png'), ok[:4, :4])
  _png(os.path.join(folder, 'zeros.png'), np.zeros((16, 16), np.uint8))
  with open(os.path.join(folder, 'ok.png'), 'rb') as f:
    png = f.read()
  files = {'empty.png': b'', 'trunc.png': png[:len(png) // 2],
           'fake.png': b'hello, not an image\n', 'notes.txt': b'notes\n'}
  for name, data in files.items():
    with open(os.path.join(folder, name), 'wb') as f:
      f.write(data)
  np.save(os.path.join(folder, 'arr.npy'), np.zeros((16, 16), np.float32))
  np.save(os.path.join(folder, 'nan.npy'), np.full((16, 16), np.nan,
                                                   np.float32))
  np.save(os.path.join(folder, 'big_complex.npy'),
          np.full((16, 16), 2 + 1j, np.complex64))
  with open(os.path.join(folder, 'arr.npy'), 'rb') as f:
    npy = f.read()
  with open(os.path.join(folder, 'trunc.npy'), 'wb') as f:
    f.write(npy[:100])
  os.makedirs(os.path.join(folder, 'pairs'))  # b_real.png has no b_mean
  for name in ('a_real.png', 'a_mean.png', 'b_real.png'):
    _png(os.path.join(folder, 'pairs', name), ok)
  os.makedirs(os.path.join(folder, 'no_images'))
  with open(os.path.join(folder, 'no_images', 'readme.md'), 'w') as f:
    f.write('no images here\n')


def make_workdir(path, kind):
  """The workdir of a case before it runs."""
  if kind in (None, 'none'):
    return
  if kind == 'file':
    with open(path, 'w') as f:
      f.write('a file of the user\n')
    return
  os.makedirs(path)
  files = {
      'held': {'.dd_jax_run': '{"dd_jax": "0.2.0", "status": "finished", '
                              '"kept": []}',
               'config.json': '{"fit": {"steps": 20}}',
               'metrics.jsonl': '{"step": 10}\n',
               'ok_restored.png': 'old pixels', 'summary.txt': 'old\n'},
      'other': {'photo.png': 'the user\'s photo', 'notes.txt': 'mine\n'},
      'clash': {'ok_clean.png': 'the user\'s own clean image'},
  }[kind]
  for name, text in files.items():
    with open(os.path.join(path, name), 'w') as f:
      f.write(text)


def tree_hashes(root):
  """{relative path: sha256} of every file under `root`, folders as 'dir'."""
  out = {}
  for folder, dirs, files in os.walk(root):
    for d in dirs:
      out[os.path.relpath(os.path.join(folder, d), root)] = 'dir'
    for name in files:
      path = os.path.join(folder, name)
      with open(path, 'rb') as f:
        out[os.path.relpath(path, root)] = hashlib.sha256(f.read()).hexdigest()
  return out


def case_argv(args, inputs, workdir):
  """BASE (less its --config= when the case gives one) and the case's
  arguments, with {in} and {wd} filled in and --workdir added."""
  args = [a.replace('{in}', inputs).replace('{wd}', workdir) for a in args]
  config = [a for a in args if a.startswith('--config=')]
  base = [a for a in BASE if not (config and a.startswith('--config='))]
  rest = [a for a in args if a not in config]
  if not any(a.startswith('--workdir') for a in args):
    rest.append(f'--workdir={workdir}')
  return config + base + rest


@pytest.fixture(scope='module')
def outcome(tmp_path_factory):
  """Runs every case once (in one helper process); returns the file hashes
  before and after, and each case's (rc, stdout, stderr)."""
  root = str(tmp_path_factory.mktemp('bad_inputs'))
  inputs = os.path.join(root, 'inputs')
  make_inputs(inputs)
  jobs = []
  for case in CASES:
    workdir = os.path.join(root, 'wd', case[0])
    os.makedirs(os.path.dirname(workdir), exist_ok=True)
    make_workdir(workdir, case[2])
    jobs.append({'id': case[0], 'argv': case_argv(case[1], inputs, workdir)})
  before = tree_hashes(root)
  spec = os.path.join(root, 'jobs.json')
  with open(spec, 'w') as f:
    json.dump(jobs, f)
  out = os.path.join(root, 'results.json')
  env = dict(os.environ, PYTHONPATH=REPO)
  proc = subprocess.run([sys.executable, os.path.abspath(__file__), spec, out],
                        cwd=REPO, env=env, capture_output=True, text=True,
                        timeout=900)
  assert proc.returncode == 0, proc.stderr[-3000:]
  os.remove(spec)
  with open(out) as f:
    results = json.load(f)
  os.remove(out)
  return before, tree_hashes(root), results


def _of_case(hashes, name):
  """The hashes of the inputs and of the case's own workdir."""
  return {p: v for p, v in hashes.items()
          if p.split(os.sep)[0] == 'inputs'
          or p.split(os.sep)[:2] == ['wd', name]}


@pytest.mark.parametrize('case', CASES, ids=[c[0] for c in CASES])
def test_bad_input_gives_one_error_line_and_changes_nothing(case, outcome):
  before, after, results = outcome
  name, _, _, message = case
  rc, stdout, stderr = results[name]
  where = f'{name}: rc {rc}\n{stderr[-3000:]}'
  assert rc == 2, where
  assert 'Traceback' not in stderr + stdout, where
  errors = [l for l in stderr.splitlines() if l.startswith('error:')]
  assert len(errors) == 1, where
  assert message in errors[0], where
  assert _of_case(after, name) == _of_case(before, name), where


def test_the_table_is_large():
  assert len(CASES) >= 40
  assert len({c[0] for c in CASES}) == len(CASES)


# ------------------------------------------------------ the helper process
def serve(spec: str, out: str):
  """Runs each job's argv as `python -m dd_jax.main` in a forked child, one
  per core (at least two) at a time; writes {id: (rc, stdout, stderr)} to
  `out`. Only modules are imported before forking: JAX's backend (its
  threads) starts in each child."""
  import importlib
  import shutil
  import tempfile
  for module in ('configs', 'dd_jax.run', 'dd_jax.io.progress', 'flax.linen',
                 'ml_collections.config_flags', 'PIL.Image'):
    importlib.import_module(module)  # What every case imports: once, here.
  from jax._src import xla_bridge
  assert not xla_bridge.backends_are_initialized(), 'unsafe to fork'
  with open(spec) as f:
    jobs = json.load(f)
  logs = tempfile.mkdtemp()
  running, results = {}, {}
  for i, job in enumerate(jobs):
    while len(running) >= max(os.cpu_count() or 1, 2):
      _reap(running, results, logs)
    running[_fork(job, os.path.join(logs, str(i)))] = (job['id'], i)
  while running:
    _reap(running, results, logs)
  shutil.rmtree(logs)
  with open(out, 'w') as f:
    json.dump(results, f)


def _fork(job, log):
  pid = os.fork()
  if pid:
    return pid
  import runpy
  import signal
  code = 1
  try:
    signal.alarm(120)  # A case that started fitting after all: killed.
    for fd, suffix in ((1, '.out'), (2, '.err')):
      os.dup2(os.open(log + suffix, os.O_WRONLY | os.O_CREAT, 0o644), fd)
    sys.argv = ['dd_jax.main', *job['argv']]
    runpy.run_module('dd_jax.main', run_name='__main__', alter_sys=True)
    code = 0
  except SystemExit as e:
    code = e.code if isinstance(e.code, int) else (0 if e.code is None
                                                   else 1)
  except BaseException:  # pylint: disable=broad-except
    import traceback
    traceback.print_exc()
  finally:
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)  # pylint: disable=protected-access


def _reap(running, results, logs):
  pid, status = os.wait()
  name, i = running.pop(pid)
  texts = []
  for suffix in ('.out', '.err'):
    with open(os.path.join(logs, str(i)) + suffix) as f:
      texts.append(f.read())
  results[name] = (os.waitstatus_to_exitcode(status), *texts)


if __name__ == '__main__':
  sys.path.insert(0, REPO)
  serve(*sys.argv[1:])
