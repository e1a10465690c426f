"""Median time of one fit step (after compile) for REFERENCE.md section 6's configs.

    PYTHONPATH=$PWD python benchmarks/step_time.py                  # all configs
    PYTHONPATH=$PWD python benchmarks/step_time.py --configs=a,d8 --repeats=5

Measures what users run: the fit engine's step (`fitting.make_step`) inside its
chunk (`fitting.make_chunk`: one image unbatched, several vmapped or, on CPU
for large images, mapped one by one; jitted, state donated), with all arrays
passed as arguments. One timed call runs `steps_per_call` steps; the table
gives the median ms per step over `repeats` calls, the compile time (first
call minus one steady call), and the number of compilations after feeding
fresh data of the same shape (must stay 1).
"""

import argparse
import dataclasses
import os
import statistics
import time

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from dd_jax import fitting as fit_lib
from dd_jax.inverse import losses
from dd_jax import models


@dataclasses.dataclass(frozen=True)
class Bench:
  name: str
  size: int
  k: int
  depth: int
  n: int = 1          # images fitted together in one call
  ref_ms: float = 0.0  # REFERENCE.md section 6 (PyTorch, per image step)


CONFIGS = {
    'a': Bench('a', 512, 64, 6, ref_ms=779),
    'b': Bench('b', 512, 128, 6, ref_ms=1651),
    'c': Bench('c', 256, 64, 5, ref_ms=145),
    'd': Bench('d', 64, 64, 4, ref_ms=7.0),
    'd8': Bench('d8', 64, 64, 4, n=8, ref_ms=8 * 7.0),
    'a2': Bench('a2', 512, 64, 6, n=2, ref_ms=2 * 779),
    'b4': Bench('b4', 512, 128, 6, n=4, ref_ms=4 * 1651),
    'c4': Bench('c4', 256, 64, 5, n=4, ref_ms=4 * 145),
    'e8': Bench('e8', 128, 64, 5, n=8),
    'd32': Bench('d32', 64, 64, 4, n=32, ref_ms=32 * 7.0),
    'd64': Bench('d64', 64, 64, 4, n=64, ref_ms=64 * 7.0),
    'c8': Bench('c8', 256, 64, 5, n=8, ref_ms=8 * 145),
}


def model_config(b: Bench, **model_overrides) -> ml_collections.ConfigDict:
  m = ml_collections.ConfigDict(dict(
      k=b.k, depth=b.depth, channels=(), upsample='bilinear',
      upsample_first=True, norm_before_act=False, input_scale=0.1, fused=True))
  for key, value in model_overrides.items():
    m[key] = value
  return m


def optim_config() -> ml_collections.ConfigDict:
  return ml_collections.ConfigDict(dict(
      name='adam', lr=0.01, b1=0.9, b2=0.999, eps=1e-8, schedule='constant'))


def build(b: Bench, steps_per_call: int, **model_overrides):
  """Returns (chunk, state, batch, n_steps array, spec) for config `b`."""
  spec = models.make_model(model_config(b, **model_overrides),
                           (b.size, b.size, 3))
  tx = fit_lib.optimizer_from_config(optim_config(), 1000)
  apply_fn = lambda p, z: spec.apply({'params': p}, z)
  step = fit_lib.make_step(apply_fn, lambda x, aux: x, losses.mse, tx,
                           fit_lib.FitOptions())
  chunk = jax.jit(fit_lib.make_chunk(step, steps_per_call), donate_argnums=(0,))
  keys = jax.random.split(jax.random.key(0), b.n)
  state, zs = jax.jit(lambda k: fit_lib.init_state(k, spec, tx))(keys)
  ys = jax.random.uniform(jax.random.key(1), (b.n, b.size, b.size, 3))
  batch = {'z': zs, 'y': ys, 'aux': {}}
  return chunk, state, batch, jnp.asarray(steps_per_call, jnp.int32), spec


class Runner:
  """Holds the donated state between calls; `run()` -> seconds per step."""

  def __init__(self, b: Bench, steps_per_call: int, **model_overrides):
    self.bench = b
    self.steps_per_call = steps_per_call
    t0 = time.perf_counter()
    (self.chunk, self.state, self.batch, self.n,
     self.spec) = build(b, steps_per_call, **model_overrides)
    self.run()
    self.first_call_s = time.perf_counter() - t0

  def run(self) -> float:
    t0 = time.perf_counter()
    self.state, losses_ = self.chunk(self.state, self.batch, self.n)
    jax.block_until_ready((self.state, losses_))
    self.last_losses = losses_
    return (time.perf_counter() - t0) / self.steps_per_call

  def compile_count(self) -> int:
    return self.chunk._cache_size()  # pylint: disable=protected-access

  def feed_new_data(self):
    """Fresh images of the same shape: must not recompile."""
    self.batch = dict(self.batch, y=jax.random.uniform(
        jax.random.key(2), self.batch['y'].shape))


# Steps per jit call. The fit engine runs `fit.log_every` steps (default
# 100) per call inside a `fori_loop`, where XLA reuses the activation buffers
# from step to step; one step per call allocates them afresh every step (on
# glibc malloc that costs ~1.8x at (c)). 10 is what a user's run sees.
STEPS_PER_CALL = 10


def steps_per_call_for(b: Bench) -> int:
  return 20 if b.size < 256 else STEPS_PER_CALL


def peak_rss_mb() -> float:
  import resource
  return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def device_memory(device=None) -> dict:
  """`bytes_in_use` and `peak_bytes_in_use` (process-wide, since start) of
  `device` (default: the first local one); {} where the backend keeps no
  allocator stats (CPU)."""
  device = device or jax.local_devices()[0]
  stats = device.memory_stats() or {}
  return {k: int(stats[k]) for k in ('bytes_in_use', 'peak_bytes_in_use')
          if k in stats}


def main(argv=None):
  global STEPS_PER_CALL
  p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
  p.add_argument('--configs', default='a,b,c,d,d8',
                 help=f'comma-separated subset of {list(CONFIGS)}')
  p.add_argument('--repeats', type=int, default=7)
  p.add_argument('--steps_per_call', type=int, default=STEPS_PER_CALL,
                 help='steps per jit call at >= 256 px (1: a fresh call per '
                 'step, the allocator-bound worst case)')
  p.add_argument('--unfused', action='store_true',
                 help='plain autodiff layers (model.fused=False)')
  args = p.parse_args(argv)
  STEPS_PER_CALL = args.steps_per_call
  print(f'jax {jax.__version__}, devices {jax.devices()}, '
        f'XLA_FLAGS={os.environ.get("XLA_FLAGS", "")!r}, '
        f'LD_PRELOAD={os.environ.get("LD_PRELOAD", "")!r}', flush=True)
  overrides = {'fused': False} if args.unfused else {}
  rows = []
  for name in args.configs.split(','):
    b = CONFIGS[name]
    r = Runner(b, steps_per_call_for(b), **overrides)
    times = [r.run() for _ in range(args.repeats)]
    med = statistics.median(times)
    compile_s = r.first_call_s - med * r.steps_per_call
    r.feed_new_data()
    r.run()
    rows.append((b, med * 1e3, compile_s, r.compile_count(), peak_rss_mb()))
    peak = device_memory().get('peak_bytes_in_use')  # None on CPU
    print(f'  {name}: {med * 1e3:.1f} ms/step (min {min(times) * 1e3:.1f}), '
          f'compile {compile_s:.1f} s'
          + (f', peak device memory {peak / 2**20:.0f} MiB (process)'
             if peak else ''), flush=True)
    del r
  print('\n| config | images | ms/step (median) | per image | ref PyTorch '
        '(REFERENCE.md, not this run) | compile s | compilations | peak RSS MB |')
  print('|---|---|---|---|---|---|---|---|')
  for b, ms, cs, cc, rss in rows:
    print(f'| ({b.name}) {b.size}x{b.size}x3 k={b.k} d={b.depth} | {b.n} | '
          f'{ms:.1f} | {ms / b.n:.2f} | {b.ref_ms:.0f} | {cs:.1f} | {cc} | '
          f'{rss:.0f} |')


def gemm_rate(shape, repeats=5, stat=min) -> float:
  """GFLOP/s of a jitted `[m, k] @ [k, n]` in this process (`stat` of the
  repeats' times: min or statistics.median)."""
  m, k, n = shape
  a = jax.random.uniform(jax.random.key(0), (m, k))
  b = jax.random.uniform(jax.random.key(1), (k, n))
  f = jax.jit(lambda a, b: a @ b)
  jax.block_until_ready(f(a, b))
  ts = []
  for _ in range(repeats):
    t0 = time.perf_counter()
    jax.block_until_ready(f(a, b))
    ts.append(time.perf_counter() - t0)
  return 2 * m * k * n / stat(ts) / 1e9


def copy_rate(repeats=5, stat=min) -> float:
  """GB/s of a 67 MB copy into an existing buffer (read + write)."""
  a = np.ones(512 * 512 * 64, np.float32)
  b = np.empty_like(a)
  ts = []
  for _ in range(repeats):
    t0 = time.perf_counter()
    np.copyto(b, a)
    ts.append(time.perf_counter() - t0)
  return 2 * a.nbytes / stat(ts) / 1e9


if __name__ == '__main__':
  main()
