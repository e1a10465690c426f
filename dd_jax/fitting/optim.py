"""Optimizers and learning-rate schedules by name (optax)."""

from typing import Callable

import optax

from dd_jax.errors import UserError


def make_schedule(cfg, steps: int):
  """The learning-rate schedule `cfg.schedule` over `steps` steps."""
  lr = float(cfg.lr)
  kind = cfg.get('schedule', 'constant')
  if kind == 'constant':
    return optax.constant_schedule(lr)
  if kind == 'step':  # The reference's lr * decay_rate^(i // decay_every).
    return optax.exponential_decay(lr, int(cfg.decay_every),
                                   float(cfg.get('decay_rate', 0.65)),
                                   staircase=True)
  if kind == 'cosine':
    return optax.cosine_decay_schedule(lr, max(steps, 1),
                                       float(cfg.get('final_ratio', 0.0)))
  if kind == 'warmup_cosine':
    return optax.warmup_cosine_decay_schedule(
        0.0, lr, int(cfg.get('warmup_steps', 100)), max(steps, 1),
        lr * float(cfg.get('final_ratio', 0.0)))
  raise UserError(f"Unknown optim.schedule {kind!r}; choose one of "
                  f"['constant', 'step', 'cosine', 'warmup_cosine'].")


OPTIMIZERS: dict[str, Callable[..., optax.GradientTransformation]] = {
    'adam': lambda lr, c: optax.adam(lr, c.get('b1', 0.9), c.get('b2', 0.999),
                                     c.get('eps', 1e-8)),
    'adamw': lambda lr, c: optax.adamw(lr, c.get('b1', 0.9),
                                       c.get('b2', 0.999), c.get('eps', 1e-8),
                                       weight_decay=c.get('weight_decay', 0.0)),
    'sgd': lambda lr, c: optax.sgd(lr, c.get('momentum', None) or None),
    'rmsprop': lambda lr, c: optax.rmsprop(lr),
    'lion': lambda lr, c: optax.lion(lr),
}


def make_optimizer(cfg, steps: int) -> optax.GradientTransformation:
  """`OPTIMIZERS[cfg.name]` with the learning-rate schedule cfg.schedule."""
  if cfg.name not in OPTIMIZERS:
    raise UserError(f'Unknown optim.name {cfg.name!r}; choose one of '
                    f'{sorted(OPTIMIZERS)}.')
  return OPTIMIZERS[cfg.name](make_schedule(cfg, steps), cfg)


