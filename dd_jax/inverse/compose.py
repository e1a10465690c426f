"""Operators applied in order, e.g. blur then downsample."""

from typing import Sequence

import jax

from dd_jax.errors import UserError
from dd_jax.inverse.base import Operator


def compose(ops: Sequence[Operator]) -> Operator:
  """`ops[-1](... ops[0](x))`; each op must take the previous one's output
  shape. The loss weight is the last operator's; noise is added after all."""
  ops = tuple(ops)
  if not ops:
    raise UserError('compose needs at least one operator.')
  for a, b in zip(ops, ops[1:]):
    if tuple(b.image_shape) != tuple(a.measurement_shape):
      raise UserError(f'compose: {b.name} takes {list(b.image_shape)}, but '
                      f'{a.name} gives {list(a.measurement_shape)}.')

  def forward(x, aux):
    for i, op in enumerate(ops):
      x = op.forward(x, aux[i])
    return x

  def make(key, i):
    return tuple(op.make_aux(k, i) for op, k in
                 zip(ops, jax.random.split(key, len(ops))))

  last = ops[-1].weight
  weight = None if last is None else (lambda aux: last(aux[-1]))
  return Operator('compose', forward, make, ops[-1].measurement_shape,
                  tuple(ops[0].image_shape), weight, all(op.clip for op in ops))
