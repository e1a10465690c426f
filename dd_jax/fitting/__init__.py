"""Fitting a model to measurements: the pure step, the host loop, the engine.

  step.py      FitState, the one-image step, the jitted chunk, init_state
  optim.py     optimizers and learning-rate schedules by name
  loop.py      the host loop between log steps (`fit`, `FitResult`)
  sharding.py  images over devices and processes
  stopping.py  early-stopping rules
  keys.py      the PRNG keys of a fit (root, per image, per use)
  meta.py      meta-learned initial weights (Reptile over training images)
  engine.py    `fit_images`: the one way to start fits (grouping, keys,
               measurement, stopping, sharding)
"""

from dd_jax.fitting.loop import FitResult, fit, format_duration
from dd_jax.fitting.optim import (OPTIMIZERS, make_optimizer, make_schedule,
                                  optim_section, optimizer_from_config,
                                  schedule_from_config)
from dd_jax.fitting.step import (FitOptions, FitState, apply_dip_features,
                                 fit_options, fit_section, fits_one_by_one,
                                 init_extras, init_state, jitter_std_at,
                                 make_chunk, make_step, new_state)
from dd_jax.fitting.stopping import StopOptions, stop_options
