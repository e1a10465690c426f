"""benchmarks/device_check.py --dry: the GPU check's steps end to end on CPU."""

import importlib.util
import json
import os
import subprocess
import sys

from tests.conftest import REPO


def test_device_check_dry_writes_one_json_and_one_markdown_table(tmp_path):
  out = tmp_path / 'out'
  env = dict(os.environ, PYTHONPATH=REPO)
  env.pop('XLA_FLAGS', None)
  # d64: 64 images shrunk to 4 (the vmapped path), beside torch when there.
  proc = subprocess.run(
      [sys.executable, 'benchmarks/device_check.py', f'--out={out}', '--dry',
       '--configs=d64'], cwd=REPO, env=env, capture_output=True, text=True,
      timeout=600)
  assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
  assert sorted(os.listdir(out)) == ['device_check.json', 'device_check.log',
                                     'device_check.md']
  rec = json.loads((out / 'device_check.json').read_text())
  assert rec['dry'] and rec['ok'] and rec['failed'] == []
  steps = rec['steps']
  assert list(steps) == ['install', 'devices', 'tests', 'denoise', 'bench']
  assert steps['install']['status'] == 'skipped'
  assert steps['devices']['backend'] == 'cpu'
  assert steps['devices']['import_errors'] == {}
  assert steps['tests']['passed'] >= 1
  assert steps['tests']['failed'] == steps['tests']['errors'] == 0
  den = steps['denoise']
  assert den['status'] == 'ok' and den['steps'] == 4
  assert den['model'] == dict(k=16, depth=4, size=32, steps=4)
  assert 0 < den['psnr_restored'] < 100 and den['wall_s'] > 0
  (row,) = steps['bench']['rows']
  assert row['status'] == 'ok', row
  assert (row['config'], row['n'], row['size'], row['k']) == ('d64', 4, 32, 8)
  assert row['ours_ms'] > 0 and row['compilations'] == 1
  if importlib.util.find_spec('torch') is not None:
    assert row['torch_ms'] > 0 and row['torch_device'] == 'cpu'
  else:
    assert 'not installed' in row['torch_skipped']
  md = (out / 'device_check.md').read_text()
  assert '(DRY: CPU, tiny sizes)' in md
  table = [l for l in md.splitlines() if l.startswith('|')]
  assert table[0].startswith('| config | images | matmuls | ours ms/step')
  assert table[2].startswith('| (d64) 32x32x3 k=8 d=3 | 4 | default |')
  assert table[3].startswith('| full denoise preset via dd_jax.main')
  assert len(table) == 4
