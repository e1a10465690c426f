"""Hyperparameter sweep (the evaluation follow-up): k, depth, activation,
input jitter, input kind, each a list of config overrides on one base config.

  python -m experiments.sweep.run --config=experiments/sweep/config.py:cpu \
    --workdir=runs/sweep_cpu

`base` is any task config (default: denoising, sigma 25); `overrides` is a
list of {dotted.key: value} dicts, one run each ({} = the base). Add your own
with --config.overrides='[{"model.k": 48}]' (JSON or a Python literal) or by
editing this file. Every override is checked before the first run; an
interrupted sweep continues with --config.output.resume=True (finished runs
are kept).
"""

import ml_collections

from configs import denoise

OVERRIDES = [
    {},
    {'model.k': 32}, {'model.k': 128},
    {'model.depth': 4}, {'model.depth': 6},
    {'model.activation': 'leaky_relu', 'model.leaky_slope': 0.1},
    {'fit.jitter_std': 0.01, 'fit.jitter_decay_every': 500},
    {'model.input_kind': 'meshgrid'},
]
TEST_OVERRIDES = [{}, {'model.k': 8}, {'model.activation': 'leaky_relu'}]


def get_config(arg=None):
  preset = (arg or 'cpu').split(',')[0]
  c = ml_collections.ConfigDict()
  c.base = denoise.get_config('test' if preset == 'test' else preset)
  c.base.data.images = 'astronaut,coffee,chelsea'
  if preset == 'cpu':
    c.base.data.size, c.base.fit.steps, c.base.fit.log_every = 128, 800, 200
  # Any value type, so that the command line can give a whole list.
  c.overrides = ml_collections.FieldReference(
      [dict(o) for o in (TEST_OVERRIDES if preset == 'test' else OVERRIDES)],
      field_type=object)
  # Runs that differ only in seed, optim.lr, fit.jitter_std or
  # operator.noise.sigma fit as ONE compiled call (engine.fit_variants).
  c.one_call = True
  c.output = ml_collections.ConfigDict(
      {'overwrite': False, 'allow_other_files': False, 'resume': False})
  return c
