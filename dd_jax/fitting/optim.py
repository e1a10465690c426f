"""Optimizers and learning-rate schedules by name (optax).

    tx = make_optimizer(name='adam', lr=0.01, schedule='cosine', steps=1000)
    tx = optimizer_from_config(config.optim, config.fit.steps)

The keyword defaults here are the `optim` config section's
(configs/common.py takes them with `optim_section()`).
"""

from typing import Callable

import optax

from dd_jax import configurable
from dd_jax.errors import UserError

SCHEDULES = ('constant', 'step', 'cosine', 'warmup_cosine')


def make_schedule(*, lr: float = 0.01, schedule: str = 'constant',
                  steps: int, decay_every: int = 500,
                  decay_rate: float = 0.65, warmup_steps: int = 100,
                  final_ratio: float = 0.0) -> optax.Schedule:
  """The learning-rate schedule `schedule` over `steps` steps.

  step: the reference's lr * decay_rate^(i // decay_every); cosine and
  warmup_cosine end at lr * final_ratio (warmup from 0 over warmup_steps).
  """
  lr = float(lr)
  if schedule == 'constant':
    return optax.constant_schedule(lr)
  if schedule == 'step':
    return optax.exponential_decay(lr, int(decay_every), float(decay_rate),
                                   staircase=True)
  if schedule == 'cosine':
    return optax.cosine_decay_schedule(lr, max(steps, 1), float(final_ratio))
  if schedule == 'warmup_cosine':
    return optax.warmup_cosine_decay_schedule(
        0.0, lr, int(warmup_steps), max(steps, 1), lr * float(final_ratio))
  raise UserError(f'Unknown optim.schedule {schedule!r}; choose one of '
                  f'{list(SCHEDULES)}.')


OPTIMIZERS: dict[str, Callable[..., optax.GradientTransformation]] = {
    'adam': lambda lr, o: optax.adam(lr, o['b1'], o['b2'], o['eps']),
    'adamw': lambda lr, o: optax.adamw(lr, o['b1'], o['b2'], o['eps'],
                                       weight_decay=o['weight_decay']),
    'sgd': lambda lr, o: optax.sgd(lr, o['momentum'] or None),
    'rmsprop': lambda lr, o: optax.rmsprop(lr),
    'lion': lambda lr, o: optax.lion(lr),
}


def make_optimizer(*, name: str = 'adam', lr: float = 0.01, steps: int,
                   b1: float = 0.9, b2: float = 0.999, eps: float = 1e-8,
                   weight_decay: float = 0.0, momentum: float = 0.0,
                   schedule: str = 'constant', decay_every: int = 500,
                   decay_rate: float = 0.65, warmup_steps: int = 100,
                   final_ratio: float = 0.0) -> optax.GradientTransformation:
  """`OPTIMIZERS[name]` with the learning-rate schedule `schedule`.

  b1, b2, eps: adam / adamw; weight_decay: adamw; momentum: sgd (0: none).
  """
  if name not in OPTIMIZERS:
    raise UserError(f'Unknown optim.name {name!r}; choose one of '
                    f'{sorted(OPTIMIZERS)}.')
  lr_fn = make_schedule(lr=lr, schedule=schedule, steps=steps,
                        decay_every=decay_every, decay_rate=decay_rate,
                        warmup_steps=warmup_steps, final_ratio=final_ratio)
  return OPTIMIZERS[name](lr_fn, dict(b1=b1, b2=b2, eps=eps,
                                      weight_decay=weight_decay,
                                      momentum=momentum))


def optim_section(**overrides):
  """The `optim` config section: make_optimizer's defaults (no steps)."""
  return configurable.section(make_optimizer, **overrides)


def optimizer_from_config(cfg, steps: int) -> optax.GradientTransformation:
  """make_optimizer from an `optim` config section; unknown fields fail."""
  return configurable.build(make_optimizer, cfg, 'optim', steps=steps)


def schedule_from_config(cfg, steps: int) -> optax.Schedule:
  """make_schedule from an `optim` config section (other fields ignored)."""
  kwargs = configurable.kwargs_for(make_optimizer, cfg, 'optim')
  names = configurable.defaults(make_schedule)
  return make_schedule(steps=steps,
                       **{k: v for k, v in kwargs.items() if k in names})
