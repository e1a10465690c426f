"""A run's inputs from `config.data`: clean images or given measurements.

    inp = load_inputs(config)  # names, sources, clean, given, infos, references
    names, clean = load_images(config.data, multiple=16)
    names, stack = load_stack(config.data, multiple=16)   # one shape
    ms, refs = pair_sources(data.measurement, data.reference, data.pair)

Given measurements (data.measurement) may come with their clean images,
data.reference: one per measurement, in the same order (files, a folder or
built-in names), or found by a pairing rule, data.pair='*_real.*:*_mean.*'
(each measurement file matching the first pattern goes with the file named
by the second, its `*`s filled with what the first one's matched: in the
folder data.reference, or beside the measurement). References are loaded
like data.images but never resized (data.size) nor given a phase
(data.phase), cropped with their measurement, and used only for the
metrics: the fit never sees them.
"""

import dataclasses
import os
import re
from typing import NamedTuple

from absl import logging
import numpy as np

from dd_jax import models
from dd_jax.errors import UserError
from dd_jax.inverse import operators
from dd_jax.io import images as data_lib

# data.pair of the real-noise benchmarks (PolyU: <scene>_real.JPG, the noisy
# shot, and <scene>_mean.JPG, the mean of many shots: its clean reference).
EXAMPLE_PAIR = '*_real.*:*_mean.*'
# How many file names an unpaired-files error lists.
_LISTED = 5


class Inputs(NamedTuple):
  """names: one output name per image (unique); sources: the file (absolute
  path) or built-in name each was read from; clean: `[H, W, C]` images or
  None (data.complex: complex images as channel pairs `[H, W, 2C]`, see
  `images.to_complex`); with given measurements, the references (data.
  reference: for the metrics only); given: given measurements or None;
  infos: one `images.ImageInfo` per input (bit depth, alpha passed through);
  references: the file (absolute path) or built-in name of each reference,
  or None."""
  names: list
  sources: list
  clean: list | None
  given: list | None
  infos: list
  references: list | None = None


def size_multiple(config) -> int:
  """The multiple the image sides must have for config.model and operator."""
  mult = models.size_multiple(config.model)
  return int(np.lcm(mult, operators.scale_factor(config.operator)))


def load_images(data_cfg, multiple: int = 1):
  """Names and clean `[H, W, C]` images from `data_cfg` (images, size,
  channels, crop, alpha), cropped to a multiple of `multiple`."""
  names, _, clean, _ = _load(data_cfg, data_cfg.images, multiple,
                             int(data_cfg.get('size', 0)), False)
  return names, clean


def load_stack(data_cfg, multiple: int = 1):
  """Names and the `[N, H, W, C]` stack of `load_images`; images of different
  sizes are a user error (one vmapped fit needs one shape)."""
  names, clean = load_images(data_cfg, multiple)
  if len({x.shape for x in clean}) > 1:
    raise UserError('The images differ in size; set data.size > 0 so they '
                    'are resized to one size and fitted together.')
  return names, np.stack(clean)


def load_inputs(config) -> Inputs:
  """The clean images of `config.data.images`, or the given measurements of
  `config.data.measurement` with their references (data.reference / data.
  pair; `clean` is None without them)."""
  d = config.data
  check_reference_settings(d)
  mult = size_multiple(config)
  if not d.get('measurement'):
    names, sources, clean, infos = _load(d, d.images, mult,
                                         int(d.get('size', 0)), False)
    return Inputs(names, sources, clean, None, infos)
  operators.check_given_measurement(config.operator)
  mult = max(mult // operators.scale_factor(config.operator), 1)
  ms, refs = pair_sources(d.measurement, d.get('reference', ''),
                          d.get('pair', ''))
  ys, xs, infos = [], [], []
  for i, s in enumerate(ms):
    y, x, info = _load_given(config, s, None if refs is None else refs[i],
                             mult)
    ys.append(y)
    xs.append(x)
    infos.append(info)
  if refs is None:
    logging.info('[data] %d measurement(s) given, no clean image: PSNR '
                 'against ground truth is not reported (data.reference '
                 'gives one).', len(ys))
    return Inputs(data_lib.unique_names(ms), _where(ms), None, ys, infos)
  logging.info('[data] %d measurement(s) given with reference(s): PSNR/SSIM '
               'are reported against them; the fit never sees them.', len(ys))
  for s, r in zip(ms, refs):
    logging.info('[data]   %s  (reference %s)', s, r)
  return Inputs(data_lib.unique_names(ms), _where(ms), xs, ys, infos,
                _where(refs))


# ---------------------------------------------------------------- references
def check_reference_settings(d):
  """data.reference and data.pair's checks that need no file."""
  reference, pair = d.get('reference', ''), d.get('pair', '')
  for field, value in (('data.reference', reference), ('data.pair', pair)):
    if not isinstance(value, str):
      raise UserError(f'{field} must be a string, got {value!r}.')
  if (reference or pair) and not d.get('measurement'):
    field = 'data.reference' if reference else 'data.pair'
    raise UserError(
        f'{field} is set but data.measurement is not: references are the '
        f'clean images of given measurements (data.images are clean images '
        f'already, and their PSNR is reported); set data.measurement, or '
        f'clear {field}.')
  if pair:
    parse_pair(pair)


def parse_pair(pair: str) -> tuple[str, str]:
  """'*_real.*:*_mean.*' -> ('*_real.*', '*_mean.*'), checked: two file
  name patterns (no folders) with as many `*` each."""
  parts = pair.split(':')
  fix = (f"give data.pair as '<measurement pattern>:<reference pattern>', "
         f"e.g. '{EXAMPLE_PAIR}' or '*.png:*.png' (`*` is the only "
         f"wildcard)")
  if len(parts) != 2 or not all(p.strip() for p in parts):
    raise UserError(f'data.pair={pair!r} is not two patterns; {fix}.')
  m, r = (p.strip() for p in parts)
  if any(sep in p for p in (m, r) for sep in ('/', os.sep)):
    raise UserError(f'data.pair={pair!r} holds a folder; the patterns match '
                    f'file names: put the folders in data.measurement and '
                    f'data.reference.')
  if m.count('*') != r.count('*'):
    raise UserError(
        f"data.pair={pair!r}: the patterns have {m.count('*')} and "
        f"{r.count('*')} '*'; each '*' of the reference pattern takes what "
        f"the same '*' of the measurement pattern matched, so they need as "
        f"many; {fix}.")
  return m, r


def _matcher(glob: str):
  """A regex matching a whole file name to `glob` (`*`: any characters),
  each `*` a group."""
  return re.compile('(.*)'.join(re.escape(p) for p in glob.split('*')))


def _fill(glob: str, parts) -> str:
  pieces = glob.split('*')
  return pieces[0] + ''.join(p + s for p, s in zip(parts, pieces[1:]))


def _listing(items) -> str:
  items = list(items)
  shown = ', '.join(items[:_LISTED])
  return shown + (f' and {len(items) - _LISTED} more'
                  if len(items) > _LISTED else '')


def pair_sources(measurement: str, reference: str = '', pair: str = ''):
  """`(measurement sources, reference sources or None)`, one reference per
  measurement.

  Without `pair`: `measurement` and `reference` are expanded like data.images
  (files, folders, built-in names; a folder's images sorted) and paired in
  order. With `pair` (`parse_pair`): each file of the `measurement` folders
  (and each file listed) matching the first pattern goes with the file the
  second pattern names, in the folder `reference` or, when it is empty,
  beside the measurement. Missing references, unequal counts and (with
  `pair`) unpaired files on either side are one UserError naming them."""
  if not pair:
    ms = data_lib.list_sources(measurement)
    if not reference:
      return ms, None
    refs = data_lib.list_sources(reference)
    missing = [r for r in refs if not os.path.exists(r)
               and r not in data_lib.BUILTIN_IMAGES]
    if missing:
      raise UserError(
          f'Reference file(s) not found (data.reference): '
          f'{_listing(map(repr, missing))}; give one clean image (a file, a '
          f'folder or a built-in name) per measurement.')
    if len(refs) != len(ms):
      raise UserError(
          f'data.reference lists {len(refs)} image(s) for {len(ms)} '
          f'measurement(s) of data.measurement; give one reference per '
          f'measurement in the same order, or pair folders by file name with '
          f"data.pair (e.g. '{EXAMPLE_PAIR}').")
    return ms, refs
  return _pair_by_pattern(measurement, reference, pair)


def _pair_by_pattern(measurement: str, reference: str, pair: str):
  """pair_sources with a pairing rule."""
  pat_m, pat_r = parse_pair(pair)
  match_m, match_r = _matcher(pat_m), _matcher(pat_r)
  if reference and not os.path.isdir(reference):
    raise UserError(
        f'data.reference={reference!r} is not a folder; with data.pair the '
        f'references are found by name, in the folder data.reference (empty: '
        f'beside each measurement).')
  found, scan = [], []  # measurement files; reference folders to scan
  for item in (i.strip() for i in measurement.split(',')):
    if not item:
      continue
    if os.path.isdir(item):
      names = _files(item)
      hits = [f for f in names if match_m.fullmatch(f)]
      if not hits:
        raise UserError(
            f'No file in the data.measurement folder {item!r} matches '
            f'{pat_m!r} (data.pair={pair!r}); it holds '
            f'{_listing(names) or "no files"}.')
      found += [os.path.join(item, f) for f in hits]
      scan.append(reference or item)
    elif os.path.isfile(item):
      if not match_m.fullmatch(os.path.basename(item)):
        raise UserError(f'Measurement {item!r} does not match {pat_m!r} '
                        f'(data.pair={pair!r}).')
      found.append(item)
    else:
      raise UserError(f'Measurement file not found: {item!r}.')
  if not found:
    raise UserError('No measurement given; set data.measurement (files or a '
                    'folder).')
  same = lambda a, b: os.path.abspath(a) == os.path.abspath(b)
  both = [s for s in found if match_r.fullmatch(os.path.basename(s))
          and same(reference or os.path.dirname(s), os.path.dirname(s))]
  if both:
    raise UserError(
        f'data.pair={pair!r}: {_listing(both)} match(es) both patterns; '
        f'choose patterns that no file matches both of, or keep the '
        f'references in their own folder (data.reference).')
  refs, no_ref = [], []
  for s in found:
    where = reference or os.path.dirname(s) or '.'
    name = _fill(pat_r, match_m.fullmatch(os.path.basename(s)).groups())
    refs.append(os.path.join(where, name))
    if not os.path.isfile(refs[-1]):
      no_ref.append(f'{s} (no {name} in {where})')
  claimed = {os.path.abspath(r) for r in refs}
  no_meas = [os.path.join(folder, f)
             for folder in dict.fromkeys(scan) for f in _files(folder)
             if match_r.fullmatch(f)
             and os.path.abspath(os.path.join(folder, f)) not in claimed]
  if no_ref or no_meas:
    parts = []
    if no_ref:
      parts.append(f'{len(no_ref)} measurement(s) without a reference: '
                   f'{_listing(no_ref)}')
    if no_meas:
      parts.append(f'{len(no_meas)} reference(s) without a measurement: '
                   f'{_listing(no_meas)}')
    raise UserError(
        f'Unpaired files with data.pair={pair!r}: {"; ".join(parts)}. Add '
        f'the missing files, move the unpaired ones out, or fix data.pair / '
        f'data.reference.')
  return found, refs


def _files(folder: str) -> list[str]:
  """The names of the files in `folder`, sorted (hidden ones left out)."""
  return sorted(f for f in os.listdir(folder) if not f.startswith('.')
                and os.path.isfile(os.path.join(folder, f)))


def _load_given(config, source: str, reference: str | None, multiple: int):
  """One given measurement and its reference (or None), cropped alike:
  `(measurement, reference, ImageInfo of the measurement)`."""
  d = config.data
  cplx = bool(d.get('complex', False))
  _check_kind(source, True, cplx)
  y, info = _read(d, source, measurement=True)
  x = None
  if reference is not None:
    if not cplx and reference.lower().endswith('.npy'):
      raise UserError(f'Reference {reference!r} is a NumPy array; the '
                      f'reference of a real image is an image file (a '
                      f'complex .npy image needs data.complex=True).')
    x, _ = _read(d, reference, measurement=False)
    want = tuple(operators.image_shape_for(config.operator, y.shape,
                                           complex_valued=cplx))
    if tuple(x.shape) != want:
      raise UserError(
          f'Reference {reference!r} is {_shape(x.shape)}, but measurement '
          f'{source!r} ({_shape(y.shape)}) is of a {_shape(want)} image for '
          f'operator {config.operator.name!r}; give the clean image of that '
          f'measurement (data.channels=gray|rgb converts both alike).')
  cropped = data_lib.fit_size(y, 0, multiple, source, d.get('crop', True))
  if cropped.shape[:2] != y.shape[:2]:
    top, left = ((a - b) // 2 for a, b in zip(y.shape[:2], cropped.shape[:2]))
    h, w = cropped.shape[:2]
    if info.alpha is not None:
      info = dataclasses.replace(
          info, alpha=data_lib.center_crop(info.alpha, (h, w)))
    if x is not None:
      f = x.shape[0] // y.shape[0]  # the operator's scale factor
      x = x[f * top:f * (top + h), f * left:f * (left + w)]
  return cropped, x, info


def _shape(shape) -> str:
  return 'x'.join(map(str, shape))


def _read(d, source: str, measurement: bool):
  """`images.load_input` of `source` at its size (not cropped); a reference
  as it is (data.phase makes images to simulate from, not references)."""
  return data_lib.load_input(
      source, channels=d.get('channels', 'auto'), size=0, multiple=1,
      crop=d.get('crop', True), alpha=d.get('alpha', 'keep'),
      measurement=measurement, complex_valued=bool(d.get('complex', False)))


def _where(sources) -> list:
  return [os.path.abspath(s) if os.path.isfile(s) else s for s in sources]


def _load(d, spec, multiple, size, measurement):
  """Names, sources, pixels and infos of the inputs listed in `spec`."""
  sources = data_lib.list_sources(spec)
  pixels, infos = [], []
  complex_valued = bool(d.get('complex', False))
  for s in sources:
    _check_kind(s, measurement, complex_valued)
    x, info = data_lib.load_input(
        s, channels=d.get('channels', 'auto'), size=size, multiple=multiple,
        crop=d.get('crop', True), alpha=d.get('alpha', 'keep'),
        measurement=measurement, complex_valued=complex_valued,
        phase=d.get('phase', 'none'))
    pixels.append(x)
    infos.append(info)
  return data_lib.unique_names(sources), _where(sources), pixels, infos


def _check_kind(source: str, measurement: bool, complex_valued: bool):
  """Refuses a missing measurement file and an array given as a real image."""
  if measurement and not os.path.exists(source):
    raise UserError(f'Measurement file not found: {source!r}.')
  if (not measurement and not complex_valued and
      source.lower().endswith('.npy')):
    raise UserError(f'{source!r} is a NumPy array, not an image file; give '
                    'arrays (e.g. k-space) as data.measurement, or a complex '
                    'image with data.complex=True.')
