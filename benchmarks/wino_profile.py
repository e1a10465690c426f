"""Where the p x p (Winograd) deep decoder's step time goes, and A/B levers.

    XLA_FLAGS="--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1" \
      PYTHONPATH=$PWD python benchmarks/wino_profile.py --pieces
    ... python benchmarks/wino_profile.py --step --repeats=5

--gemm: the layer's batched Winograd GEMM against one GEMM of the same
work (ms, GFLOP/s). --pieces: the Winograd conv's parts (input transform, GEMMs, output transform,
their adjoints) and the layer's other passes (stats, bilinear x2 and its
transpose), each jitted alone at the (p3c) 256x256x64 layer's shapes, median
ms. --step: the (p3c) fit step (engine chunk, 10 steps per call), ms/step.
--baseline=PATH: the step with that copy of layers.py and with the current
one, timed alternately A B A B in one process, e.g.
    git show HEAD:dd_jax/models/layers.py > /tmp/layers_head.py
    ... python benchmarks/wino_profile.py --step --baseline=/tmp/layers_head.py
Timing notes: `taskset -c N` for one thread (XLA's intra-op pool otherwise
still runs dots on every core); the isolated --pieces are allocator-bound
under glibc's defaults (fresh >32 MB buffers page-fault each call), so run
them with MALLOC_MMAP_MAX_=0 MALLOC_TRIM_THRESHOLD_=1e11 (the step reuses
buffers inside its loop).
"""

import argparse
import statistics
import time

import jax
import jax.numpy as jnp
import numpy as np

from dd_jax.models import layers
from dd_jax.models import upsample as up_lib


def timeit(f, *args, reps=7):
  jax.block_until_ready(f(*args))
  ts = []
  for _ in range(reps):
    t0 = time.perf_counter()
    jax.block_until_ready(f(*args))
    ts.append(time.perf_counter() - t0)
  return 1e3 * statistics.median(ts)


def pieces(hw=256, c=64, reps=7):
  p = 3
  k = jax.random.split(jax.random.key(0), 4)
  x = jax.nn.relu(jax.random.normal(k[0], (hw, hw, c)))
  w = jax.random.normal(k[1], (p, p, c, c)) / 24
  dy = jax.random.normal(k[2], (hw, hw, c))
  v = jax.jit(lambda x: layers._wino_input(x, p))(x)
  u = layers._wino_weights(w)
  ut = layers._wino_weights(w, transposed=True)
  mm = layers._bmm(v, u)
  small = jax.random.normal(k[3], (hw // 2, hw // 2, c))
  rows = [
      ('input transform  x -> V', lambda x: layers._wino_input(x, p), (x,)),
      ('GEMM V @ U', layers._bmm, (v, u)),
      ('output transform M -> y', lambda m: layers._wino_output(m, (hw, hw), p),
       (mm,)),
      ('output adjoint dy -> dM', lambda d: layers._wino_output_adjoint(d, p),
       (dy,)),
      ('GEMM dM @ U^T', layers._bmm, (mm, ut)),
      ('GEMM V^T @ dM (dw)', layers._bmm_tn, (v, mm)),
      ('input adjoint dV -> dx',
       lambda d: layers._wino_input_adjoint(d, x.shape, p), (v,)),
      ('conv forward (whole)', layers.winograd_conv, (x, w)),
      ('conv backward (whole)', layers.winograd_conv_backward, (x, w, dy)),
      ('stats relu/mean/var', layers._stats, (x,)),
      ('bilinear2 128->256', up_lib.bilinear2, (small,)),
      ('bilinear2^T 256->128', up_lib.bilinear2_transpose, (dy,)),
      ('copy x*2 (one pass)', lambda x: x * 2.0, (x,)),
  ]
  for name, f, args in rows:
    print(f'{name:28s} {timeit(jax.jit(f), *args, reps=reps):8.2f} ms',
          flush=True)


def gemm(hw=256, c=64, reps=9):
  """The 256x256 layer's Winograd GEMM (36 batched [tiles, C] @ [C, C])
  against one GEMM of the same work: how far the GEMM library's rate is."""
  tiles = (hw // layers.WINOGRAD_TILE[3]) ** 2
  k = jax.random.split(jax.random.key(0), 2)
  v = jax.random.normal(k[0], (36, tiles, c))
  u = jax.random.normal(k[1], (36, c, c))
  flops = 2 * 36 * tiles * c * c
  for name, f in [('batched [36, T, C] @ [36, C, C]', layers._bmm),
                  ('one [36 T, C] @ [C, C]',
                   lambda a, b: a.reshape(-1, c) @ b[0])]:
    ms = timeit(jax.jit(f), v, u, reps=reps)
    print(f'{name:32s} {ms:8.2f} ms  {flops / ms / 1e6:6.1f} GFLOP/s',
          flush=True)


def make_step(steps_per_call=10):
  from benchmarks import compare_torch_dip as ctd  # pylint: disable=g-import-not-at-top
  return ctd.Ours(ctd.CONFIGS['p3c'], steps_per_call)


def _load_layers(path):
  """A copy of layers.py (e.g. `git show HEAD:dd_jax/models/layers.py`) as
  its own module."""
  import importlib.util  # pylint: disable=g-import-not-at-top
  spec = importlib.util.spec_from_file_location('layers_baseline', path)
  mod = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(mod)
  return mod


def step_ab(baseline, repeats=5, steps_per_call=10):
  """(p3c) step with `baseline` (a layers.py path) and with the current
  layers, timed alternately."""
  from dd_jax.models import decoder  # pylint: disable=g-import-not-at-top
  fits = {}
  variants = {'current': layers}
  if baseline:
    variants = {'baseline': _load_layers(baseline), **variants}
  for name, mod in variants.items():
    decoder.layers = mod  # read at trace time
    fits[name] = make_step(steps_per_call)
  decoder.layers = layers
  times = {n: [] for n in fits}
  for _ in range(repeats):
    for n, f in fits.items():
      times[n].append(1e3 * f.run())
  for n, ts in times.items():
    print(f'{n:10s} median {statistics.median(ts):8.1f} ms/step  '
          f'[{", ".join(f"{t:.1f}" for t in ts)}]', flush=True)


def main():
  ap = argparse.ArgumentParser()
  ap.add_argument('--pieces', action='store_true')
  ap.add_argument('--step', action='store_true')
  ap.add_argument('--gemm', action='store_true')
  ap.add_argument('--baseline', default='',
                  help='path of a layers.py copy to A/B the step against')
  ap.add_argument('--repeats', type=int, default=5)
  ap.add_argument('--size', type=int, default=256)
  a = ap.parse_args()
  if a.pieces:
    pieces(a.size)
  if a.gemm:
    gemm(a.size)
  if a.step:
    step_ab(a.baseline, a.repeats)


if __name__ == '__main__':
  main()
