"""Config sections from library signatures, and back: one home per default.

Library functions and classes take plain keyword arguments and hold their
defaults in their signatures (dataclass fields included). A config section
is made from them, and a section is turned back into keyword arguments at the
edge, so a default lives in exactly one place:

    c.model = configurable.section(DeepDecoder, exclude=('out_channels',))
    model = configurable.build(DeepDecoder, c.model, 'model', out_channels=3)

Unknown names in a section fail with the list of valid ones. Positional-only
parameters (before a `/`) are data, not settings: they are never config fields
(inpaint.mask's `frame`).
"""

import dataclasses
import inspect
from typing import Any, Callable, Iterable

import ml_collections

from dd_jax.errors import UserError

_EMPTY = inspect.Parameter.empty
_NOT_FIELDS = (inspect.Parameter.POSITIONAL_ONLY,
               inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)


def defaults(target: Callable, exclude: Iterable[str] = ()) -> dict[str, Any]:
  """The keyword defaults of a function, class or dataclass, in order."""
  exclude = set(exclude) | _module_fields(target)
  out = {}
  if dataclasses.is_dataclass(target):
    for f in dataclasses.fields(target):
      if f.name in exclude or not f.init:
        continue
      if f.default is not dataclasses.MISSING:
        out[f.name] = f.default
      elif f.default_factory is not dataclasses.MISSING:
        out[f.name] = f.default_factory()
    return out
  for name, p in inspect.signature(target).parameters.items():
    if name in exclude or p.default is _EMPTY:
      continue
    if p.kind in _NOT_FIELDS:
      continue
    out[name] = p.default
  return out


def section(target: Callable, exclude: Iterable[str] = (),
            **overrides) -> ml_collections.ConfigDict:
  """A ConfigDict of `target`'s defaults (then `overrides`)."""
  values = defaults(target, exclude)
  unknown = set(overrides) - set(values)
  if unknown:
    raise TypeError(f'{sorted(unknown)} are not arguments of {target}.')
  values.update(overrides)
  return ml_collections.ConfigDict(values)


def as_dict(cfg) -> dict[str, Any]:
  """A plain dict of a ConfigDict / mapping (None -> {})."""
  if cfg is None:
    return {}
  if isinstance(cfg, ml_collections.ConfigDict):
    return cfg.to_dict()
  return dict(cfg)


def kwargs_for(target: Callable, cfg, what: str, ignore: Iterable[str] = ()
               ) -> dict[str, Any]:
  """The entries of `cfg` as keyword arguments of `target`.

  what: the section's name for messages ('model', 'operator.blur').
  ignore: entries of the section that are not arguments (e.g. 'name').
  """
  valid = set(_accepted(target))
  out = {}
  for key, value in as_dict(cfg).items():
    if key in ignore:
      continue
    if key not in valid:
      raise UserError(f'Unknown config field {what}.{key}; valid fields: '
                      f'{sorted(valid | set(ignore))}.')
    out[key] = tuple(value) if isinstance(value, list) else value
  return out


def build(target: Callable, cfg, what: str, ignore: Iterable[str] = (),
          **given):
  """`target(**kwargs_for(target, cfg, what), **given)`."""
  kwargs = kwargs_for(target, cfg, what, ignore)
  kwargs.update(given)
  return target(**kwargs)


def _module_fields(target) -> set[str]:
  """Flax's own dataclass fields of a linen Module (not hyperparameters)."""
  import flax.linen as nn
  if isinstance(target, type) and issubclass(target, nn.Module):
    return {'parent', 'name'}
  return set()


def _accepted(target: Callable) -> list[str]:
  if dataclasses.is_dataclass(target):
    skip = _module_fields(target)
    return [f.name for f in dataclasses.fields(target)
            if f.init and f.name not in skip]
  return [n for n, p in inspect.signature(target).parameters.items()
          if p.kind not in _NOT_FIELDS]
