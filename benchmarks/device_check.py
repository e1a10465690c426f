"""The prepared GPU check: install, tests, step times vs torch, the full run.

    bash benchmarks/device_check.sh OUTDIR            # GPU machine, <= 8 min
    bash benchmarks/device_check.sh OUTDIR --dry      # the same on CPU, tiny
    python benchmarks/device_check.py --out=OUTDIR --dry --configs=d,c8

Steps, in order; each runs in child processes under a time limit, and a step
that fails is recorded and the next one runs (exit status 1 at the end):
  install  the wheels in benchmarks/wheels/ (device_wheels.sh fills it) into
           a folder put on PYTHONPATH, then `pip install --no-index --no-deps
           --no-build-isolation -e .` (skipped with --dry);
  devices  jax.devices(), package versions, imports, nvidia-smi; where JAX
           sees no GPU (and not --dry) the check stops here, exit status 2;
  tests    a fast subset of tests/ on the default backend (model equations,
           vmap == loop, fused == autodiff, the engine's batched paths);
  denoise  the paper's full denoising preset (configs/denoise.py: astronaut
           512, k=128, d=6, 1900 steps) through `python -m dd_jax.main`:
           wall time, fit and compile time, PSNR and SSIM;
  bench    one process per config of `--configs` (NAME[@PRECISION], NAME from
           step_time.CONFIGS): our fit chunk (step_time.Runner) and
           compare_torch's torch step timed alternately, compile time,
           compilations after new data, peak device memory of each library,
           same-weights differences (last: configs that find no
           time left are marked so).
Writes OUTDIR/device_check.json (everything), OUTDIR/device_check.md (one
table) and OUTDIR/device_check.log (each child's output), after every step.
--dry shrinks every size (32x32 images, k=8, d=3, at most 4 images, a few
steps), runs one test and forces JAX and torch onto the CPU.
"""

import argparse
import dataclasses
import datetime
import glob
import importlib.util
import json
import math
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WHEELS = os.path.join(REPO, 'benchmarks', 'wheels')
STEPS = ('install', 'devices', 'tests', 'denoise', 'bench')

# NAME[@PRECISION]: 'highest' runs both libraries' matmuls in true float32
# (JAX's and cuDNN's GPU default is TF32), to see what TF32 buys.
CONFIGS = 'a,b,c,d,d64,c8,a@highest'

# The GPU subset, most telling first (pytest keeps this file order; a step
# cut short by its limit still reports the tests that ran): 33 tests, ~4 min
# of test time on the 2-core dev machine under load 6 (the heaviest of a
# wider set, BatchingTest's SGD/Adam fits and the CPU-only one-by-one path,
# 4.5 min more there, left out).
TEST_FILES = ('tests/models/layers_test.py', 'tests/models/decoder_test.py',
              'tests/fitting/fit_test.py', 'tests/fitting/engine_test.py',
              'tests/fitting/sharding_test.py', 'tests/models/dip_test.py')
TEST_K = ' or '.join((
    'layers_test',                          # layer equations, VJP, vmap
    'LayerTest', 'test_matches_numpy_float64', 'test_jit_equals_eager',
    'test_fused_gradients_equal_autodiff', 'test_norm_is_per_image_under_vmap',
    'test_batch_mode_rule', 'test_nonfinite_loss_stops_only_that_image',
    'test_chunks_share_one_compilation',
    'test_grouped_fit_equals_fitting_each_image_alone', 'test_pad_and_unpad',
    'test_one_device_mesh_equals_plain_vmap',
    'test_fit_reports_ema_and_batches_like_single_fits'))
DRY_TEST_FILES = ('tests/models/decoder_test.py',)
DRY_TEST_K = 'test_hidden_layer_matches_reference'

# Seconds: the most a step may take, and what it keeps for the later steps.
CAP_S = dict(install=90, devices=90, tests=180, denoise=150, bench=210)
KEEP_S = dict(install=0, devices=0, tests=0, denoise=100, bench=120)
CONFIG_CAP_S = 100  # One bench config.
MIN_S = 10          # Less left than this: the step is skipped.
# --dry runs on a shared CPU: no cap but --budget_s.

DENOISE_ARGS = ('--config=configs/denoise.py',)  # The `full` preset.
DRY_DENOISE_ARGS = ('--config=configs/denoise.py:test', '--config.data.size=32',
                    '--config.fit.steps=4', '--config.fit.log_every=2')


def _parse(argv):
  p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
  p.add_argument('--out', required=True, help='folder for the 3 result files')
  p.add_argument('--dry', action='store_true', help='CPU, tiny sizes')
  p.add_argument('--configs', default=None,
                 help=f'bench configs (default {CONFIGS})')
  p.add_argument('--repeats', type=int, default=None,
                 help='timed calls per config (default 5, --dry 2)')
  p.add_argument('--budget_s', type=float, default=450,
                 help='seconds for all steps together')
  p.add_argument('--skip', default='', help=f'steps to skip, of {STEPS}')
  p.add_argument('--test_precision', default='highest',
                 help='JAX_DEFAULT_MATMUL_PRECISION for the tests (they pin '
                 'float32 equations; TF32 misses their tolerances by design); '
                 '"" for the backend default')
  p.add_argument('--torch_device', default=None,
                 help='torch side: cpu, cuda, none (default: cuda when torch '
                 'sees one, else cpu; --dry: cpu)')
  # A child's part (internal).
  p.add_argument('--part', choices=('devices', 'bench'), help=argparse.SUPPRESS)
  p.add_argument('--config', help=argparse.SUPPRESS)
  p.add_argument('--result', help=argparse.SUPPRESS)
  return p.parse_args(argv)


# ------------------------------------------------------------ child processes
class _Interrupted(Exception):
  """SIGTERM (e.g. the shell's `timeout`): stop the child, write, exit."""


def _on_sigterm(signum, frame):
  del signum, frame
  raise _Interrupted()


def _run(cmd, timeout_s, log_path, env):
  """Runs `cmd` in its own process group, output into `log_path`.

  Returns (exit status or None when it ran past `timeout_s`, seconds). On a
  time-out or SIGTERM the whole group (pytest's subprocesses too) is killed.
  """
  t0 = time.perf_counter()
  with open(log_path, 'w') as log:
    log.write('$ ' + ' '.join(cmd) + '\n')
    log.flush()
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT,
                            cwd=REPO, env=env, process_group=0)
    try:
      rc = proc.wait(timeout=max(timeout_s, 1))
    except subprocess.TimeoutExpired:
      rc = None
    except (_Interrupted, KeyboardInterrupt):
      _kill(proc)
      raise
    if rc is None:
      _kill(proc)
  return rc, time.perf_counter() - t0


def _kill(proc):
  """SIGTERM, then SIGKILL, to the child's process group."""
  for sig, wait_s in ((signal.SIGTERM, 5), (signal.SIGKILL, 5)):
    try:
      os.killpg(proc.pid, sig)
    except ProcessLookupError:
      break
    try:
      proc.wait(timeout=wait_s)
    except subprocess.TimeoutExpired:
      pass


def _tail(path, chars=3000) -> str:
  try:
    with open(path, errors='replace') as f:
      return f.read()[-chars:]
  except OSError:
    return ''


def _status(rc) -> str:
  return 'ok' if rc == 0 else ('timed out' if rc is None else 'failed')


# A step's or config's status: 'ok', 'failed', 'timed out', 'no time' (the
# budget ran out first) or 'skipped' (asked for: --skip, or install in --dry).
# Only 'ok' and 'skipped' pass.
PASS = ('ok', 'skipped')


# ------------------------------------------------------------------- checker
class Check:
  """Runs the steps, keeps the record, writes the three files."""

  def __init__(self, args):
    self.args, self.dry = args, args.dry
    self.out = os.path.abspath(args.out)
    os.makedirs(self.out, exist_ok=True)
    self.tmp = tempfile.mkdtemp(prefix='dd_jax_check_')
    self.t0 = time.perf_counter()
    self.deadline = self.t0 + args.budget_s
    self.log_path = os.path.join(self.out, 'device_check.log')
    open(self.log_path, 'w').close()
    self.site = None  # Folder of the installed wheels.
    self.torch_device = args.torch_device
    self.record = dict(
        date=datetime.datetime.now(datetime.timezone.utc).isoformat(
            timespec='seconds'),
        dry=self.dry, budget_s=args.budget_s, python=sys.executable,
        steps={}, failed=[], ok=False)

  # ------------------------------------------------------------- plumbing
  def env(self, **extra) -> dict:
    env = dict(os.environ)
    path = [p for p in (self.site, REPO, env.get('PYTHONPATH')) if p]
    env['PYTHONPATH'] = os.pathsep.join(path)
    env['PYTHONUNBUFFERED'] = '1'
    if self.dry:  # Tiny sizes on the CPU, even on a GPU machine.
      env['JAX_PLATFORMS'] = 'cpu'
      env['CUDA_VISIBLE_DEVICES'] = ''
    env.update({k: v for k, v in extra.items() if v is not None})
    return env

  def left_s(self, step: str) -> float:
    """Seconds `step` may take: its cap, less what later steps keep."""
    later = STEPS[STEPS.index(step) + 1:]
    keep = sum(KEEP_S[s] for s in later if s not in self.skipped())
    left = self.deadline - time.perf_counter()
    return left if self.dry else min(CAP_S[step], left - keep)

  def skipped(self):
    return {s.strip() for s in self.args.skip.split(',') if s.strip()}

  def child(self, name, cmd, timeout_s, **env):
    """Runs one child; its output goes to the log and its tail to stdout."""
    path = os.path.join(self.tmp, f'{name}.log')
    rc, secs = _run(cmd, timeout_s, path, self.env(**env))
    text = _tail(path, 10 ** 7)
    with open(self.log_path, 'a') as f:
      f.write(f'\n===== {name}: exit {rc} after {secs:.1f} s '
              f'(limit {timeout_s:.0f} s)\n{text}')
    lines = text.splitlines()
    print('\n'.join(['    ' + l for l in lines[-12:]]), flush=True)
    return rc, secs, path

  def run_step(self, step: str, fn):
    """Runs `fn() -> dict` as `step`; failures are recorded, never raised."""
    t0 = time.perf_counter()
    print(f'[check] {step} ...', flush=True)
    if step in self.skipped():
      res = dict(status='skipped', detail='--skip')
    elif self.left_s(step) < MIN_S:
      res = dict(status='no time', detail='no time left in --budget_s')
    else:
      try:
        res = fn()
      except _Interrupted:
        raise
      except Exception as e:  # pylint: disable=broad-except
        res = dict(status='failed', detail=f'{type(e).__name__}: {e}')
    res.setdefault('seconds', round(time.perf_counter() - t0, 1))
    self.record['steps'][step] = res
    if res['status'] not in PASS:
      self.record['failed'].append(step)
    print(f'[check] {step}: {res["status"]} ({res["seconds"]} s)'
          f'{" - " + res["detail"] if res.get("detail") else ""}', flush=True)
    self.write()
    return res

  # ---------------------------------------------------------------- steps
  def install(self) -> dict:
    if self.dry:
      return dict(status='skipped', detail='--dry: no pip install (the '
                  'checkout is on PYTHONPATH)')
    py, res = sys.executable, dict(status='ok')
    wheels = sorted(glob.glob(os.path.join(WHEELS, '*.whl')))
    res['wheels'] = [os.path.basename(w) for w in wheels]
    problems = []
    if wheels:
      self.site = os.path.join(self.tmp, 'site')
      rc, _, path = self.child(
          'install_wheels', [py, '-m', 'pip', 'install', '-q', '--no-index',
                             '--no-deps', '--no-compile', '--no-cache-dir',
                             '--target', self.site, *wheels],
          self.left_s('install'))
      if rc != 0:
        problems.append(f'wheels: exit {rc}: {_tail(path, 500)}')
    else:
      problems.append(f'no wheels in {WHEELS} (run benchmarks/device_wheels.sh'
                      ' here and carry benchmarks/wheels)')
    rc, _, path = self.child(
        'install_dd_jax', [py, '-m', 'pip', 'install', '-q', '--no-index',
                           '--no-deps', '--no-build-isolation', '-e', '.'],
        self.left_s('install'))
    res['editable_install'] = _status(rc)
    if rc != 0:
      problems.append(f'pip install -e .: exit {rc} (the checkout stays on '
                      f'PYTHONPATH): {_tail(path, 500)}')
    if problems:
      res.update(status='failed', detail=' | '.join(problems))
    return res

  def devices(self) -> dict:
    result = os.path.join(self.tmp, 'devices.json')
    rc, _, path = self.child(
        'devices', [sys.executable, __file__, '--part=devices',
                    f'--out={self.out}', f'--result={result}'] + (
                        ['--dry'] if self.dry else []),
        self.left_s('devices'))
    if not os.path.isfile(result):
      return dict(status='failed' if rc == 0 else _status(rc),
                  detail=f'exit {rc}: {_tail(path, 1500)}')
    with open(result) as f:
      res = json.load(f)
    if res.get('import_errors'):
      res.update(status='failed',
                 detail=f'imports failed: {sorted(res["import_errors"])}')
    else:
      res['status'] = 'ok'
    if self.torch_device is None:
      self.torch_device = ('cpu' if self.dry or not res.get('torch_cuda')
                           else 'cuda')
    return res

  def tests(self) -> dict:
    files = DRY_TEST_FILES if self.dry else TEST_FILES
    files = [f for f in files if os.path.isfile(os.path.join(REPO, f))]
    k = DRY_TEST_K if self.dry else TEST_K
    junit = os.path.join(self.tmp, 'junit.xml')
    cmd = [sys.executable, '-m', 'pytest', '-p', 'no:cacheprovider', '-n', '0',
           '-v', '-rfE', f'--junitxml={junit}', *files, '-k', k]
    if importlib.util.find_spec('xdist') is None:
      cmd.remove('-n')
      cmd.remove('0')
    precision = self.args.test_precision or None
    rc, _, path = self.child('tests', cmd, self.left_s('tests'),
                             JAX_DEFAULT_MATMUL_PRECISION=precision)
    res = dict(status=_status(rc), files=files, k=k,
               matmul_precision=precision or 'default')
    res.update(_junit_counts(junit) or _log_counts(path))
    if rc != 0:
      res['detail'] = (f'{res.get("failed", "?")} failed, {res.get("errors", "?")}'
                       f' errors' if rc is not None else 'timed out')
      res['log_tail'] = _tail(path, 3000)
    elif not res.get('passed'):
      res.update(status='failed', detail='no test ran')
    return res

  def bench(self) -> dict:
    names = [c.strip() for c in (self.args.configs or CONFIGS).split(',')
             if c.strip()]
    end = time.perf_counter() + self.left_s('bench')
    repeats = self.args.repeats or (2 if self.dry else 5)
    rows, failed = [], []
    for name in names:
      left = end - time.perf_counter()
      left = left if self.dry else min(CONFIG_CAP_S, left)
      if left < MIN_S:
        rows.append(dict(config=name, status='no time',
                         error='no time left in the bench step'))
        failed.append(name)
        continue
      result = os.path.join(self.tmp, f'bench_{name}.json')
      cmd = [sys.executable, __file__, '--part=bench', f'--out={self.out}',
             f'--config={name}', f'--result={result}', f'--repeats={repeats}',
             f'--torch_device={self.torch_device or "cpu"}']
      if self.dry:
        cmd.append('--dry')
      # No preallocation: torch shares the GPU, and peak_bytes_in_use then
      # counts what JAX's allocator handed out.
      rc, secs, path = self.child(f'bench_{name}', cmd, left,
                                  XLA_PYTHON_CLIENT_PREALLOCATE='false')
      if os.path.isfile(result):
        with open(result) as f:
          row = json.load(f)
      else:
        row = dict(config=name, status='failed' if rc == 0 else _status(rc),
                   error=f'exit {rc}: {_tail(path, 1500)}')
      row['seconds'] = round(secs, 1)
      if row.get('status') != 'ok':
        failed.append(name)
      rows.append(row)
    res = dict(status='failed' if failed else 'ok', rows=rows,
               repeats=repeats, torch_device=self.torch_device)
    if failed:
      res['detail'] = f'configs not ok: {failed}'
    return res

  def denoise(self) -> dict:
    workdir = os.path.join(self.tmp, 'denoise')
    args = list(DRY_DENOISE_ARGS if self.dry else DENOISE_ARGS)
    cmd = [sys.executable, '-m', 'dd_jax.main', *args, f'--workdir={workdir}']
    rc, secs, path = self.child('denoise', cmd, self.left_s('denoise'))
    res = dict(status=_status(rc), wall_s=round(secs, 1), args=args)
    res.update(_read_run(workdir))
    if rc != 0:
      res['detail'] = f'exit {rc}'
      res['log_tail'] = _tail(path, 3000)
    elif res.get('psnr_restored') is None:
      res.update(status='failed', detail='no PSNR in summary.json')
    return res

  # ---------------------------------------------------------------- outputs
  def write(self):
    self.record['wall_s'] = round(time.perf_counter() - self.t0, 1)
    _write_atomic(os.path.join(self.out, 'device_check.json'),
                  json.dumps(self.record, indent=2, default=str) + '\n')
    _write_atomic(os.path.join(self.out, 'device_check.md'),
                  markdown(self.record))

  def main(self) -> int:
    signal.signal(signal.SIGTERM, _on_sigterm)
    try:
      self.run_step('install', self.install)
      dev = self.run_step('devices', self.devices)
      if (not self.dry and 'devices' not in self.skipped()
          and dev.get('backend') != 'gpu'):
        self.record['failed'].append('no GPU')
        self.write()
        print(f'[check] JAX sees no GPU (backend {dev.get("backend")!r}): '
              'stopping.', flush=True)
        return 2
      self.run_step('tests', self.tests)
      self.run_step('denoise', self.denoise)
      self.run_step('bench', self.bench)
    except (_Interrupted, KeyboardInterrupt):
      self.record['failed'].append('interrupted')
      self.write()
      print('[check] interrupted: partial results written.', flush=True)
      return 1
    finally:
      shutil.rmtree(self.tmp, ignore_errors=True)
    self.record['ok'] = not self.record['failed']
    self.write()
    print(f'\n{markdown(self.record)}\n[check] wrote {self.out}: '
          f'{"OK" if self.record["ok"] else "FAILED " + str(self.record["failed"])}'
          f' in {self.record["wall_s"]} s', flush=True)
    return 0 if self.record['ok'] else 1


def _write_atomic(path, text):
  with open(path + '.tmp', 'w') as f:
    f.write(text)
  os.replace(path + '.tmp', path)


def _junit_counts(path) -> dict:
  """passed / failed / errors / skipped and the failing ids from pytest's
  JUnit XML; {} when there is none."""
  try:
    root = ET.parse(path).getroot()
  except (OSError, ET.ParseError):
    return {}
  counts = dict(passed=0, failed=0, errors=0, skipped=0)
  bad = []
  for case in root.iter('testcase'):
    kinds = {child.tag for child in case}
    test_id = f'{case.get("classname")}::{case.get("name")}'
    if 'failure' in kinds:
      counts['failed'] += 1
      bad.append(test_id)
    elif 'error' in kinds:
      counts['errors'] += 1
      bad.append(test_id)
    elif 'skipped' in kinds:
      counts['skipped'] += 1
    else:
      counts['passed'] += 1
  counts['not_passed'] = bad
  return counts


def _log_counts(path) -> dict:
  """The same from `pytest -v` lines, for a run cut short (no JUnit XML)."""
  counts = dict(passed=0, failed=0, errors=0, skipped=0, not_passed=[],
                partial=True)
  key = dict(PASSED='passed', FAILED='failed', ERROR='errors',
             SKIPPED='skipped')
  with open(path, errors='replace') as f:
    for line in f:
      parts = line.split()
      if len(parts) >= 2 and '::' in parts[0] and parts[1] in key:
        counts[key[parts[1]]] += 1
        if parts[1] in ('FAILED', 'ERROR'):
          counts['not_passed'].append(parts[0])
  return counts


def _read_run(workdir) -> dict:
  """PSNR, SSIM, fit and compile seconds, steps and the model of a
  `dd_jax.main` run, from its summary.json, metrics.jsonl, config.json."""
  out = {}
  try:
    with open(os.path.join(workdir, 'summary.json')) as f:
      summary = json.load(f)
    name, image = next(iter(summary['images'].items()))
    out.update(image=name, psnr_restored=image.get('psnr_restored'),
               psnr_corrupted=image.get('psnr_corrupted'),
               ssim=image.get('ssim_restored'),
               total_s=summary.get('seconds'))
    group = summary['groups'][0]
    out.update(fit_s=group.get('seconds'), shape=group.get('shape'),
               num_params=group.get('num_params'))
  except (OSError, ValueError, KeyError, IndexError, StopIteration) as e:
    out['summary_error'] = f'{type(e).__name__}: {e}'
  try:
    with open(os.path.join(workdir, 'metrics.jsonl')) as f:
      records = [json.loads(l) for l in f if l.strip()]
    out.update(compile_s=records[0].get('compile_s'),
               steps=records[-1].get('step'),
               steps_per_s=records[-1].get('steps_per_s'))
  except (OSError, ValueError, IndexError):
    pass
  try:
    with open(os.path.join(workdir, 'config.json')) as f:
      c = json.load(f)
    out['model'] = dict(k=c['model']['k'], depth=c['model']['depth'],
                        size=c['data']['size'], steps=c['fit']['steps'])
  except (OSError, ValueError, KeyError):
    pass
  return out


# ------------------------------------------------------------------ markdown
def _f(value, fmt='.1f', scale=1.0) -> str:
  if value is None or (isinstance(value, float) and not math.isfinite(value)):
    return '-'
  return format(value * scale, fmt)


def markdown(rec) -> str:
  """The check as Markdown: a few lines, then ONE table (bench + denoise)."""
  steps = rec['steps']
  dev = steps.get('devices', {})
  v = dev.get('versions', {})
  head = (f'# dd_jax device check, {rec["date"]}'
          f'{" (DRY: CPU, tiny sizes)" if rec["dry"] else ""}\n\n'
          f'{dev.get("device_kind", "?")} x {len(dev.get("devices", []))} '
          f'({dev.get("backend", "?")}), jax {v.get("jax")}, jaxlib '
          f'{v.get("jaxlib")}, flax {v.get("flax")}, optax {v.get("optax")}, '
          f'torch {v.get("torch")} on {steps.get("bench", {}).get("torch_device")}'
          f' | {rec.get("wall_s")} s of {rec["budget_s"]:.0f} | '
          f'{"OK" if rec["ok"] else "FAILED: " + ", ".join(rec["failed"])}\n')
  lines = [head]
  for step in STEPS:
    s = steps.get(step)
    if s is None:
      lines.append(f'- {step}: not run')
      continue
    note = s.get('detail', '')
    if step == 'tests' and 'passed' in s:
      note = (f'{s["passed"]} passed, {s["failed"]} failed, {s["errors"]} '
              f'errors, {s["skipped"]} skipped (matmul precision '
              f'{s.get("matmul_precision")})'
              + ('; cut short, counted from the log' if s.get('partial') else '')
              + (f'; {note}' if note else ''))
    if step == 'denoise' and s.get('psnr_restored') is not None:
      note = (f'{s.get("image")}: PSNR {_f(s.get("psnr_corrupted"), ".2f")} ->'
              f' {_f(s["psnr_restored"], ".2f")} dB, SSIM '
              f'{_f(s.get("ssim"), ".4f")}')
    lines.append(f'- {step}: {s["status"]} ({s.get("seconds")} s)'
                 f'{": " + note[:300] if note else ""}')
  lines += ['', '| config | images | matmuls | ours ms/step | per image ms | '
            'torch ms/step | ours/torch | compile s | compilations | JAX peak '
            'MiB | torch peak MiB | notes |',
            '|---|---|---|---|---|---|---|---|---|---|---|---|']
  mib = 1 / 2 ** 20
  for r in steps.get('bench', {}).get('rows', []):
    label = (f'({r["name"]}) {r["size"]}x{r["size"]}x3 k={r["k"]} '
             f'd={r["depth"]}' if 'size' in r else f'({r["config"]})')
    ratio = (r['ours_ms'] / r['torch_ms'] if r.get('ours_ms') and
             r.get('torch_ms') else None)
    notes = [r['status']] if r.get('status') != 'ok' else []
    eq = r.get('equivalence')
    if eq:
      notes.append(f'same weights: out {eq["out"]:.1e}, loss {eq["loss"]:.1e}, '
                   f'grad {eq["grad"]:.1e}')
    if r.get('torch_skipped'):
      notes.append(f'torch: {r["torch_skipped"]}')
    if r.get('error'):
      notes.append(r['error'].strip().splitlines()[-1][:120] if
                   r['error'].strip() else 'error')
    per_image = r['ours_ms'] / r['n'] if r.get('ours_ms') else None
    lines.append(
        f'| {label} | {r.get("n", "-")} | {r.get("precision", "-")} | '
        f'{_f(r.get("ours_ms"), ".2f")} | {_f(per_image, ".3f")} | '
        f'{_f(r.get("torch_ms"), ".2f")} | {_f(ratio, ".3f")} | '
        f'{_f(r.get("compile_s"))} | {r.get("compilations", "-")} | '
        f'{_f(r.get("jax_peak_bytes"), ".0f", mib)} | '
        f'{_f(r.get("torch_peak_bytes"), ".0f", mib)} | '
        f'{"; ".join(notes).replace("|", "/")} |')
  d = steps.get('denoise')
  if d and d.get('status') != 'skipped':
    m = d.get('model', {})
    ms = (1e3 * d['fit_s'] / d['steps'] if d.get('fit_s') and d.get('steps')
          else None)
    lines.append(
        f'| full denoise preset via dd_jax.main: {d.get("image", "?")} '
        f'{m.get("size", "?")}px k={m.get("k", "?")} d={m.get("depth", "?")}, '
        f'{m.get("steps", "?")} steps | 1 | default | {_f(ms, ".2f")} | '
        f'{_f(ms, ".3f")} | - | - | {_f(d.get("compile_s"))} | - | - | - | '
        f'{d["status"]}; wall {_f(d.get("wall_s"))} s, fit '
        f'{_f(d.get("fit_s"))} s; PSNR {_f(d.get("psnr_corrupted"), ".2f")} -> '
        f'{_f(d.get("psnr_restored"), ".2f")} dB, SSIM '
        f'{_f(d.get("ssim"), ".4f")} |')
  return '\n'.join(lines) + '\n'


# --------------------------------------------------------------- child parts
VERSIONS = ('jax', 'jaxlib', 'jax-cuda13-plugin', 'jax-cuda12-plugin', 'flax',
            'optax', 'orbax-checkpoint', 'numpy', 'scipy', 'scikit-image',
            'ml-collections', 'absl-py', 'imageio', 'matplotlib', 'pillow',
            'torch', 'pytest', 'pytest-xdist', 'dd_jax')
IMPORTS = ('jax', 'flax', 'optax', 'numpy', 'ml_collections', 'absl',
           'imageio', 'skimage', 'matplotlib', 'PIL', 'dd_jax', 'configs',
           'ml_collections.config_flags', 'dd_jax.run', 'benchmarks.step_time')


def devices_part(args):
  """Backend, devices, versions, imports, nvidia-smi -> args.result."""
  from importlib import metadata
  import jax
  res = dict(backend=jax.default_backend(),
             devices=[str(d) for d in jax.devices()],
             device_kind=jax.devices()[0].device_kind,
             matmul_precision=str(jax.config.jax_default_matmul_precision),
             env={k: os.environ.get(k) for k in (
                 'JAX_PLATFORMS', 'XLA_FLAGS', 'XLA_PYTHON_CLIENT_PREALLOCATE',
                 'CUDA_VISIBLE_DEVICES', 'PYTHONPATH')},
             cpu_count=os.cpu_count(), versions={}, import_errors={})
  for name in VERSIONS:
    try:
      res['versions'][name] = metadata.version(name)
    except metadata.PackageNotFoundError:
      res['versions'][name] = None
  for name in IMPORTS:
    try:
      importlib.import_module(name)
    except Exception as e:  # pylint: disable=broad-except
      res['import_errors'][name] = f'{type(e).__name__}: {e}'
  res['torch_cuda'] = False
  if not args.dry:  # (--dry: the torch side runs on the CPU; 4 s saved.)
    try:
      import torch
      res['torch_cuda'] = bool(torch.cuda.is_available())
      if res['torch_cuda']:
        res['torch_device_name'] = torch.cuda.get_device_name(0)
    except ImportError as e:
      res['torch_error'] = str(e)
  try:
    res['nvidia_smi'] = subprocess.run(
        ['nvidia-smi', '--query-gpu=name,memory.total,driver_version,'
         'clocks.max.sm', '--format=csv,noheader'], capture_output=True,
        text=True, timeout=30).stdout.strip()
  except (OSError, subprocess.TimeoutExpired) as e:
    res['nvidia_smi'] = f'unavailable: {type(e).__name__}'
  print(json.dumps(res, indent=2))
  with open(args.result, 'w') as f:
    json.dump(res, f, indent=2)


def bench_part(args):
  """One config: ours and torch timed alternately -> args.result."""
  name, _, precision = args.config.partition('@')
  import jax
  if precision:
    jax.config.update('jax_default_matmul_precision', precision)
  from benchmarks import step_time
  b = step_time.CONFIGS[name]
  if args.dry:
    b = dataclasses.replace(b, size=32, k=8, depth=3, n=min(b.n, 4))
  row = dict(config=args.config, name=name, size=b.size, k=b.k,
             depth=b.depth, n=b.n, precision=precision or 'default',
             backend=jax.default_backend(), status='ok')
  compare_torch = None
  if args.torch_device != 'none':
    try:
      import torch
      from benchmarks import compare_torch
    except ImportError as e:
      row['torch_skipped'] = f'not installed ({e})'
  else:
    row['torch_skipped'] = '--torch_device=none'
  spc = step_time.steps_per_call_for(b)
  if compare_torch is not None:
    compare_torch.ARGS = compare_torch._parse(  # pylint: disable=protected-access
        [f'--device={args.torch_device}', f'--repeats={args.repeats}'])
    if args.dry:  # Functional only; torch's CPU threads spin under load.
      torch.set_num_threads(1)
    if precision == 'highest':
      torch.backends.cuda.matmul.allow_tf32 = False
      torch.backends.cudnn.allow_tf32 = False
    row['torch_tf32'] = dict(matmul=torch.backends.cuda.matmul.allow_tf32,
                             cudnn=torch.backends.cudnn.allow_tf32)
    row['torch_device'] = args.torch_device
    ours, theirs = compare_torch.make_pair(b)
    t_ours, t_torch = compare_torch.time_alternating(ours, theirs,
                                                     args.repeats)
    row['torch_ms'] = t_torch * 1e3
  else:
    ours = step_time.Runner(b, spc)
    t_ours = statistics.median(ours.run() for _ in range(args.repeats))
  row.update(ours_ms=t_ours * 1e3, steps_per_call=spc,
             compile_s=ours.first_call_s - t_ours * spc)
  ours.feed_new_data()
  ours.run()
  row['compilations'] = ours.compile_count()
  row['final_loss'] = float(jax.numpy.nanmean(ours.last_losses))
  if not math.isfinite(row['final_loss']):
    row['status'], row['error'] = 'failed', 'non-finite loss'
  mem = step_time.device_memory()
  row['jax_peak_bytes'] = mem.get('peak_bytes_in_use')
  if compare_torch is not None and args.torch_device.startswith('cuda'):
    row['torch_peak_bytes'] = torch.cuda.max_memory_allocated()
  if compare_torch is not None and b.n == 1:
    d_out, d_loss, d_grad = compare_torch.check_equivalence(b)
    row['equivalence'] = dict(out=float(d_out), loss=float(d_loss),
                              grad=float(d_grad))
    # Outputs are in [0, 1]: beyond 5e-2 it is another computation (TF32
    # rounding on both sides stays near 1e-3).
    if not (d_out < 5e-2 and d_loss < 5e-2):
      row['status'] = 'failed'
      row['error'] = f'outputs differ from torch: {row["equivalence"]}'
  if row['compilations'] != 1:
    row['status'] = 'failed'
    row['error'] = f'{row["compilations"]} compilations after new data'
  print(json.dumps(row, indent=2))
  with open(args.result, 'w') as f:
    json.dump(row, f, indent=2)


def main(argv=None):
  args = _parse(sys.argv[1:] if argv is None else argv)
  if args.part == 'devices':
    return devices_part(args)
  if args.part == 'bench':
    return bench_part(args)
  return Check(args).main()


if __name__ == '__main__':
  sys.exit(main())
