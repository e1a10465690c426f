"""Fitting a model to measurements: the pure step, the host loop, the engine.

  step.py      FitState, the one-image step, the jitted chunk, init_state
  optim.py     optimizers and learning-rate schedules by name
  loop.py      the host loop between log steps (`fit`, `FitResult`)
  sharding.py  images over devices and processes
  stopping.py  early-stopping rules
"""

from dd_jax.fitting.loop import FitResult, fit, format_duration
from dd_jax.fitting.optim import OPTIMIZERS, make_optimizer, make_schedule
from dd_jax.fitting.step import (FitOptions, FitState, _dip_features,
                                 fit_options, fits_one_by_one,
                                 init_state, jitter_std_at, make_chunk,
                                 make_step)
