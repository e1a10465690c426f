"""A/B timing of speed levers on the real fit step, variants interleaved.

    PYTHONPATH=$PWD python benchmarks/levers.py --configs=a --repeats=5
    LD_PRELOAD=/usr/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4 \
      PYTHONPATH=$PWD python benchmarks/levers.py --configs=a

Each variant is the fit engine's chunk (as in step_time.py) built with a
different layer implementation; calls go v0 v1 ... v0 v1 ... so machine
load hits all variants alike. Prints the median ms per step of each and the
ratio to the first variant.
"""

import argparse
import contextlib
import statistics
import sys


from benchmarks import _layers_v0
from benchmarks import step_time
from dd_jax import layers
from dd_jax import upsample


def _bilinear2_v0(x):
  return upsample.bilinear2_1d(upsample.bilinear2_1d(x, 0), 1)


@contextlib.contextmanager
def _patched(layer_fn=None, bilinear=None):
  saved = layers.hidden_layer, upsample.UPSAMPLERS['bilinear']
  if layer_fn is not None:
    layers.hidden_layer = layer_fn
  if bilinear is not None:
    upsample.UPSAMPLERS['bilinear'] = bilinear
  try:
    yield
  finally:
    layers.hidden_layer, upsample.UPSAMPLERS['bilinear'] = saved


# name -> (patch kwargs, model overrides)
VARIANTS = {
    'v0': (dict(layer_fn=_layers_v0.hidden_layer, bilinear=_bilinear2_v0), {}),
    'v1': ({}, {}),
    'autodiff': ({}, {'fused': False}),
    'autodiff_v0': (dict(bilinear=_bilinear2_v0), {'fused': False}),
}


def main(argv=None):
  p = argparse.ArgumentParser()
  p.add_argument('--configs', default='a')
  p.add_argument('--variants', default='v0,v1')
  p.add_argument('--repeats', type=int, default=5)
  args = p.parse_args(argv)
  names = args.variants.split(',')
  for cname in args.configs.split(','):
    b = step_time.CONFIGS[cname]
    runners = {}
    for v in names:
      patch, overrides = VARIANTS[v]
      with _patched(**patch):
        runners[v] = step_time.Runner(b, step_time.steps_per_call_for(b),
                                      **overrides)
    times = {v: [] for v in names}
    for _ in range(args.repeats):
      for v in names:
        times[v].append(runners[v].run())
    base = statistics.median(times[names[0]])
    for v in names:
      med = statistics.median(times[v])
      print(f'({cname}) {v:>12}: {med * 1e3:8.1f} ms/step  '
            f'ratio {med / base:.3f}  compile+first {runners[v].first_call_s:.1f} s',
            flush=True)
    del runners


if __name__ == '__main__':
  sys.exit(main())
