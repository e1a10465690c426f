"""Sharding: 4 fake CPU devices and 2 real processes equal one device.

The multi-device checks run in subprocesses: XLA_FLAGS must be set before jax
is imported, and the test session's jax keeps its single device.
"""

import json
import os
import socket
import subprocess
import sys
import textwrap

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from dd_jax.fitting import sharding

from tests.conftest import REPO


def _env(**extra):
  env = dict(os.environ, PYTHONPATH=REPO, JAX_PLATFORMS='cpu', **extra)
  env.pop('XLA_FLAGS', None)  # Fake CPU devices, also on a GPU machine.
  env.update(extra)
  return env


def test_pad_and_unpad():
  tree = {'a': jnp.arange(5.0), 'b': jnp.arange(10).reshape(5, 2)}
  padded = sharding.pad_images(tree, 4)
  np.testing.assert_array_equal(padded['a'], [0, 1, 2, 3, 4, 4, 4, 4])
  np.testing.assert_array_equal(padded['b'][-1], [8, 9])
  back = sharding.unpad_images(padded, 5)
  np.testing.assert_array_equal(back['b'], tree['b'])
  assert sharding.pad_images(tree, 5)['a'].shape == (5,)


def test_process_share_covers_all_images_in_order():
  for n, count in [(3, 2), (5, 2), (1, 2), (8, 4), (7, 3)]:
    shares = [sharding.process_share(n, p, count) for p in range(count)]
    flat = np.concatenate(shares)[:n]
    np.testing.assert_array_equal(flat, np.arange(n))
    assert all(s.max() < n for s in shares)


def test_one_device_mesh_equals_plain_vmap():
  """Same code path on one device (the test session's)."""
  out = _run_fit_script(devices=None, counts=(2,))
  assert out['devices'] == len(jax.devices())
  assert out['max_err'][0] < 1e-6


_FIT_SCRIPT = textwrap.dedent('''
    import json, sys
    import jax, numpy as np
    from configs import common
    from dd_jax import fitting as fit_lib, models
    from dd_jax.fitting import sharding
    from dd_jax.inverse import operators
    from dd_jax.io import images as data
    c = common.base_config('test')
    c.model.depth, c.model.k = 2, 8
    c.fit.steps, c.fit.log_every = 4, 2
    shape = (16, 16, 3)
    spec = models.make_model(c.model, shape)
    op = operators.make_operator(c.operator, shape)
    errs = []
    for n in json.loads(sys.argv[1]):
      xs = np.stack([data.synthetic_image(i, shape[:2]) for i in range(n)])
      ys = np.clip(xs + 0.1 * np.random.default_rng(n).normal(size=xs.shape),
                   0, 1).astype(np.float32)
      keys = jax.random.split(jax.random.key(n), n)
      kw = dict(optim_cfg=c.optim, fit_cfg=c.fit, clean=xs, verbose=False)
      a = fit_lib.fit(keys, spec, op.forward, ys, {}, **kw)
      if sys.argv[2:] == ['one_by_one']:  # b maps over each device's images.
        fit_lib.step.SEQUENTIAL_MIN_SIZE = 0
      b = sharding.fit(keys, spec, op.forward, ys, {}, **kw)
      assert b.restored.shape == a.restored.shape, (b.restored.shape, n)
      assert b.losses.shape == a.losses.shape
      errs.append(max(float(np.abs(a.restored - b.restored).max()),
                      float(np.nanmax(np.abs(a.losses - b.losses)))))
    print('RESULT', json.dumps({'devices': len(jax.devices()),
                                'max_err': errs}))
''')


def _run_fit_script(devices, counts, *args):
  extra = {}
  if devices:
    extra['XLA_FLAGS'] = f'--xla_force_host_platform_device_count={devices}'
  proc = subprocess.run(
      [sys.executable, '-c', _FIT_SCRIPT, json.dumps(list(counts)), *args],
      env=_env(**extra), cwd=REPO, capture_output=True, text=True,
      timeout=600)
  assert proc.returncode == 0, proc.stderr[-3000:]
  line = [l for l in proc.stdout.splitlines() if l.startswith('RESULT')][-1]
  return json.loads(line[len('RESULT'):])


def test_four_devices_equal_unsharded_with_a_ragged_count():
  out = _run_fit_script(devices=4, counts=(6,))
  assert out['devices'] == 4
  # Per-image math is identical; only XLA's batching of 2 vs 8 images may
  # reorder float32 sums.
  assert max(out['max_err']) < 1e-5, out


def test_four_devices_one_by_one_equal_unsharded_vmap():
  """Sharded over 4 devices with each device's images fitted in sequence
  (lax.map, the large-image CPU path) == unsharded vmap."""
  out = _run_fit_script(4, (6,), 'one_by_one')
  assert out['devices'] == 4
  assert max(out['max_err']) < 1e-5, out


def _free_port():
  with socket.socket() as s:
    s.bind(('127.0.0.1', 0))
    return s.getsockname()[1]


def _gloo_available():
  return 'jax_cpu_collectives_implementation' in jax.config.values


def test_two_processes_equal_one_process(tmp_path):
  if not _gloo_available():
    pytest.skip('this jax has no CPU collectives option (gloo)')
  args = ['--config=configs/denoise.py:test',
          '--config.data.images=astronaut,camera,coffee',
          '--config.data.channels=rgb', '--config.data.size=16',
          '--config.model.depth=2', '--config.model.k=8',
          '--config.fit.steps=4', '--config.fit.log_every=2']
  main = [sys.executable, '-m', 'dd_jax.main']
  single = subprocess.run(main + args + [f'--workdir={tmp_path}/single'],
                          env=_env(), cwd=REPO, capture_output=True,
                          text=True, timeout=600)
  assert single.returncode == 0, single.stderr[-3000:]
  port = _free_port()
  procs = [subprocess.Popen(
      main + args + [f'--workdir={tmp_path}/multi',
                     f'--coordinator=127.0.0.1:{port}', '--num_processes=2',
                     f'--process_id={i}'],
      env=_env(), cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
      text=True) for i in range(2)]
  outs = [p.communicate(timeout=600) for p in procs]
  for p, (_, err) in zip(procs, outs):
    if p.returncode and 'gloo' in err.lower() and 'not' in err.lower():
      pytest.skip('gloo CPU collectives unavailable: ' + err[-300:])
    assert p.returncode == 0, err[-3000:]
  load = lambda d: json.load(open(os.path.join(tmp_path, d, 'summary.json')))
  a, b = load('single'), load('multi')
  assert list(a['images']) == list(b['images']) == ['astronaut', 'camera',
                                                    'coffee']
  for name in a['images']:
    for key in ('psnr_restored', 'ssim_restored', 'psnr_corrupted'):
      np.testing.assert_allclose(b['images'][name][key],
                                 a['images'][name][key], atol=1e-4)
  # Process 0 wrote everything; metrics hold all three images per log step.
  rec = json.loads(open(os.path.join(tmp_path, 'multi',
                                     'metrics.jsonl')).readline())
  assert len(rec['loss']) == 3 and len(rec['psnr']) == 3
