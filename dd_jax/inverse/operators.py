"""The operator registry and its config adapter.

Each family lives in its own module with plain keyword arguments:
base (Operator, identity), inpaint, superres, blur, cs, mri, compose; noise
models in noise.py. Here `operator.name` picks an entry of `OPERATORS`, and
the entry's builder takes its arguments from the nested config section named
after the family (`operator.mask.observed`, `operator.blur.sigma`, ...);
noise comes from `operator.noise`. A missing section means the builder's
defaults; an unknown field fails with the list of valid ones.

Measurements that are not images: compressive sensing gives a vector `[M]`;
MRI gives k-space with real/imag on a trailing axis (see mri.py).

Masks found in the corrupted frame (operator.mask.kind='auto_text', subtitle
removal): `make_operator(..., frame=y)` hands the frame of ONE image to the
builder, so such an operator is one image's (`from_frame` says when a config
needs it; dd_jax.run builds it from its input).

Complex images (data.complex): `make_operator(..., complex_valued=True)`
builds an entry with `takes_complex` for the complex image and wraps it
(`base.complex_images`) to take the real/imaginary channel pairs
`[H, W, 2C]` the models emit.
"""

import dataclasses
import os
from typing import Callable

from absl import logging

from dd_jax import configurable
from dd_jax.errors import UserError
from dd_jax.inverse import base
from dd_jax.inverse import blur
from dd_jax.inverse import compose as compose_lib
from dd_jax.inverse import cs
from dd_jax.inverse import inpaint
from dd_jax.inverse import mri
from dd_jax.inverse import noise as noise_lib
from dd_jax.inverse import superres
from dd_jax.inverse.base import Operator

__all__ = ['Operator', 'OPERATORS', 'SECTIONS', 'make_operator', 'measure',
           'scale_factor', 'image_shape_for', 'check_given_measurement',
           'noise_settings', 'compose_ops', 'from_frame']


def compose_ops(ops: str = '') -> tuple[str, ...]:
  """The operator names of `operator.compose.ops`: 'blur,downsample'."""
  if isinstance(ops, str):
    ops = ops.split(',')
  return tuple(s.strip() for s in ops if s.strip())


# Config section -> the function whose signature it is (and its defaults).
SECTIONS: dict[str, Callable] = {
    'mask': inpaint.mask,
    'downsample': superres.downsample,
    'blur': blur.blur,
    'cs': cs.gaussian,
    'mri': mri.multi_coil,
    'compose': compose_ops,
    'noise': noise_lib.add_noise,
}


@dataclasses.dataclass(frozen=True)
class Entry:
  """An operator name's builder `(image_shape, **section) -> Operator`.

  section: the `operator.<section>` holding its keyword arguments.
  ignore: fields of a shared section this builder does not take.
  takes_complex: its forward is complex-linear, so it also measures complex
    images (data.complex).
  takes_frame: `build(image_shape, frame, **section)` takes the corrupted
    frame of one image (positional) for settings that read it (auto_text).
  """
  build: Callable[..., Operator]
  section: str | None = None
  ignore: tuple[str, ...] = ()
  takes_complex: bool = False
  takes_frame: bool = False


OPERATORS: dict[str, Entry] = {
    'identity': Entry(base.identity),
    'mask': Entry(inpaint.mask, 'mask', takes_frame=True),
    'downsample': Entry(superres.downsample, 'downsample'),
    'blur': Entry(blur.blur, 'blur'),
    'cs_gaussian': Entry(cs.gaussian, 'cs'),
    'cs_conv': Entry(cs.conv, 'cs', ignore=('block',)),
    'mri': Entry(mri.single_coil, 'mri', ignore=('coils',),
                 takes_complex=True),
    'mri_multicoil': Entry(mri.multi_coil, 'mri', takes_complex=True),
    'compose': Entry(None, 'compose'),
}

# Operators whose measurement is an image (the image shape follows from it).
IMAGE_MEASUREMENTS = ('identity', 'mask', 'downsample', 'blur', 'compose')


def settings(op_cfg, section: str) -> dict:
  """`operator.<section>` as keyword arguments, defaults filled in."""
  target = SECTIONS[section]
  given = op_cfg.get(section)
  if given is not None and not hasattr(given, 'keys'):
    first = next(iter(configurable.defaults(target)))
    raise UserError(f'operator.{section} is a section now, not {given!r}: '
                    f'set its fields, e.g. operator.{section}.{first}.')
  out = configurable.defaults(target)
  out.update(configurable.kwargs_for(target, given, f'operator.{section}'))
  return out


def noise_settings(op_cfg) -> dict:
  """`noise.add_noise`'s keyword arguments from `operator.noise`."""
  return settings(op_cfg, 'noise')


def _check_fields(op_cfg):
  valid = {'name', *SECTIONS}
  for key in configurable.as_dict(op_cfg):
    if key not in valid:
      moved = [f'operator.{s}.{key}' for s, fn in SECTIONS.items()
               if key in configurable.defaults(fn)]
      hint = f' (now {" / ".join(moved)})' if moved else ''
      raise UserError(f'Unknown config field operator.{key}{hint}; valid '
                      f'fields: {sorted(valid)}.')


def _names(op_cfg) -> tuple[str, ...]:
  """The operator names `op_cfg` applies, in order."""
  if op_cfg.name != 'compose':
    return (op_cfg.name,)
  return compose_ops(settings(op_cfg, 'compose')['ops'])


def _build(name, op_cfg, image_shape, frame=None) -> Operator:
  if name not in OPERATORS:
    raise UserError(f'Unknown operator.name {name!r}; choose one of '
                    f'{sorted(OPERATORS)}.')
  entry = OPERATORS[name]
  if name == 'compose':
    names = _names(op_cfg)
    if not names or 'compose' in names:
      raise UserError("operator.compose.ops must list operators to chain, "
                      "e.g. 'blur,downsample'.")
    ops, shape = [], tuple(image_shape)
    for n in names:
      ops.append(_build(n, op_cfg, shape))
      shape = ops[-1].measurement_shape
    return compose_lib.compose(ops)
  if entry.section is None:
    return entry.build(tuple(image_shape))
  kwargs = {k: v for k, v in settings(op_cfg, entry.section).items()
            if k not in entry.ignore}
  args = (frame,) if entry.takes_frame else ()
  return entry.build(tuple(image_shape), *args, **kwargs)


def make_operator(op_cfg, image_shape, *, complex_valued: bool = False,
                  frame=None) -> Operator:
  """Builds `OPERATORS[op_cfg.name]` for images of `image_shape`.

  complex_valued: the images are complex, `image_shape` `[H, W, 2C]` their
  real/imaginary channel pairs (data.complex); the operator measures the
  complex image `[H, W, C]`.
  frame: the corrupted frame `[H, W, C]` of the ONE image the operator is
  for, read by settings that find the operator in it (`from_frame`).
  """
  _check_fields(op_cfg)
  if not complex_valued:
    return _build(op_cfg.name, op_cfg, image_shape, frame)
  check_complex(op_cfg)
  h, w, c = image_shape
  return base.complex_images(_build(op_cfg.name, op_cfg, (h, w, c // 2)))


def from_frame(op_cfg) -> bool:
  """Whether `op_cfg`'s operator is found in each image's corrupted frame
  (operator.mask.kind='auto_text'): then it is one image's, built with
  `make_operator(..., frame=...)`. Checks those settings (UserError)."""
  names = _names(op_cfg)
  if 'mask' not in names:
    return False
  m = settings(op_cfg, 'mask')
  if m['kind'] != 'auto_text':
    return False
  if op_cfg.name != 'mask':
    raise UserError("operator.mask.kind='auto_text' finds the mask in the "
                    "corrupted frame, so it needs operator.name='mask'; got "
                    f"{op_cfg.name!r}.")
  inpaint.check_auto_text(**{k: v for k, v in m.items()
                             if k.startswith('auto_')})
  return True


def complex_names() -> list[str]:
  """The operators that measure complex images."""
  return sorted(n for n, e in OPERATORS.items() if e.takes_complex)


def check_complex(op_cfg):
  """Raises unless operator.name measures complex images (data.complex)."""
  entry = OPERATORS.get(op_cfg.name)
  if entry is None or not entry.takes_complex:
    raise UserError(f'data.complex=True needs an operator that measures '
                    f'complex images, one of {complex_names()}; '
                    f'operator.name is {op_cfg.name!r}.')


def measure(key, x, op: Operator, aux, op_cfg):
  """y = noise(A(x)) for one clean image, noise from `operator.noise`
  (never clipped when the measurement is not an image)."""
  kwargs = noise_settings(op_cfg)
  kwargs['clip'] = bool(kwargs['clip']) and op.clip
  return noise_lib.add_noise(key, op.forward(x, aux), **kwargs)


def scale_factor(op_cfg) -> int:
  """How many times larger than the measurement the image's sides are (the
  super-resolution factor; 1 for same-size image measurements)."""
  if 'downsample' not in _names(op_cfg):
    return 1
  return int(settings(op_cfg, 'downsample')['factor'])


def image_shape_for(op_cfg, y_shape, *,
                    complex_valued: bool = False) -> tuple[int, ...]:
  """The image shape behind a given measurement of shape `y_shape` (of a
  complex image: its channel pairs `[H, W, 2C]`, see make_operator)."""
  if op_cfg.name in ('mri', 'mri_multicoil'):
    h, w, c = y_shape[:3]
    return (h, w, 2 * c) if complex_valued else (h, w, c)
  if any(n not in IMAGE_MEASUREMENTS for n in _names(op_cfg)):
    raise UserError(f'A given measurement for operator {op_cfg.name!r} needs '
                    f'the image shape, which a {list(y_shape)} vector does not '
                    f'tell; simulate it from data.images instead.')
  f = scale_factor(op_cfg)
  return (y_shape[0] * f, y_shape[1] * f, y_shape[2])


def check_given_measurement(op_cfg):
  """Raises if a given (real) measurement cannot be matched to the operator:
  a mask drawn at random is unknown for real data."""
  _check_fields(op_cfg)
  names = _names(op_cfg)
  is_mri = op_cfg.name.startswith('mri')
  if not is_mri and any(n not in IMAGE_MEASUREMENTS for n in names):
    raise UserError(f'A given measurement for operator {op_cfg.name!r} needs '
                    f'the image shape, which a measurement vector does not '
                    f'tell; simulate it from data.images instead.')
  if 'mask' in names and settings(op_cfg, 'mask')['kind'] == 'random':
    raise UserError('A given measurement needs its own mask: set '
                    'operator.mask.kind=path/to/mask.png (nonzero = '
                    'observed).')
  if is_mri:
    m = settings(op_cfg, 'mri')
    if not os.path.isfile(m['mask']):
      logging.warning(
          f'[operator] given k-space with a {m["mask"]!r} mask drawn from '
          'operator.mri.seed; pass the sampling mask file (operator.mri.mask) '
          'unless the data was simulated that way.')
