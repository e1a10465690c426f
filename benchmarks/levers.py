"""A/B timing of speed levers on the real fit step, variants interleaved.

    PYTHONPATH=$PWD python benchmarks/levers.py --configs=a --repeats=5
    LD_PRELOAD=/usr/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4 \
      PYTHONPATH=$PWD python benchmarks/levers.py --configs=a

Each variant is the fit engine's chunk (as in step_time.py) built with a
different layer implementation; calls go v1 v2 ... v1 v2 ... so machine
load hits all variants alike. Prints the median ms per step of each and the
ratio to the first variant. Variants: v0 = the first fused layer, v1 = one
custom-VJP layer per hidden layer (conv, up, relu, norm), v2 = current (the
normalization folded into the next conv, `layers.normalized_chain`),
autodiff = plain JAX layers.
"""

import argparse
import contextlib
import statistics
import sys

import jax

from benchmarks import _layers_v0
from benchmarks import step_time
from dd_jax.models import layers
from dd_jax.models import decoder as decoder_lib
from dd_jax.models import upsample


def _bilinear2_v0(x):
  return upsample.bilinear2_1d(upsample.bilinear2_1d(x, 0), 1)


def _per_layer_apply(layer_fn):
  """DeepDecoder's compute (`decoder._apply`, params {'hidden': [...],
  'out': ...}) with one custom-VJP layer per hidden layer (v0, v1)."""

  def apply(params, z, spec):
    x = z
    for i, layer in enumerate(params['hidden']):
      up = decoder_lib._make_up(spec, i, layer)  # pylint: disable=protected-access
      x = layer_fn(x, layer['w'], layer['gamma'], layer['beta'], up)
    return jax.nn.sigmoid(layers.conv1x1(x, params['out']['w']))

  return apply


@contextlib.contextmanager
def _patched(apply_fn=None, bilinear=None):
  saved = decoder_lib._apply, upsample.UPSAMPLERS['bilinear']
  if apply_fn is not None:
    decoder_lib._apply = apply_fn
  if bilinear is not None:
    upsample.UPSAMPLERS['bilinear'] = bilinear
  try:
    yield
  finally:
    decoder_lib._apply, upsample.UPSAMPLERS['bilinear'] = saved


# name -> (patch kwargs, model overrides)
VARIANTS = {
    'v0': (dict(apply_fn=_per_layer_apply(_layers_v0.hidden_layer),
                bilinear=_bilinear2_v0), {}),
    'v1': (dict(apply_fn=_per_layer_apply(layers.hidden_layer)), {}),
    'v2': ({}, {}),  # Current: normalization folded into the next conv.
    'autodiff': ({}, {'fused': False}),
    'autodiff_v0': (dict(bilinear=_bilinear2_v0), {'fused': False}),
}


def main(argv=None):
  p = argparse.ArgumentParser()
  p.add_argument('--configs', default='a')
  p.add_argument('--variants', default='v1,v2')
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
