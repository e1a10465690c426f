"""Checkpoints of a run's fits, with orbax-checkpoint: resume where it stopped.

    ckpt = RunCheckpoint(os.path.join(workdir, 'checkpoint'), every_s=300)
    result = fit_images(config, clean=xs, checkpoint=ckpt)  # saves, resumes

One folder per group of images (`group_<g>/`) holds the latest snapshot of
that group's fit: the whole per-image `FitState` (params, optimizer state,
best iterate and its check, step, jitter keys, DIP state), the losses so far
and the stopper's state as an orbax checkpoint (`<position>/`), and in
`meta.json` the position in the chunk, the metrics history, the timings and
whether the group finished. A snapshot is written by orbax into a new folder
(atomically), then meta.json is replaced to point at it, then the older
snapshot is removed: an interruption at any point leaves one whole snapshot.

Keys, measurements and inputs are rebuilt from the config (they are
deterministic), so a resumed fit runs the same steps on the same data and
ends bit-identical to an uninterrupted one (CPU).
"""

import json
import os
import shutil
import time

import jax
import numpy as np

META = 'meta.json'


def to_host(tree):
  """Numpy copy of a pytree; typed PRNG keys become their key data."""
  def one(a):
    if jax.dtypes.issubdtype(getattr(a, 'dtype', None), jax.dtypes.prng_key):
      a = jax.random.key_data(a)
    return np.asarray(a)
  return jax.tree.map(one, tree)


def from_host(tree, like):
  """The inverse of `to_host`, with `like` (the live tree) for key types."""
  def one(a, ref):
    if jax.dtypes.issubdtype(getattr(ref, 'dtype', None), jax.dtypes.prng_key):
      return jax.random.wrap_key_data(a, impl=jax.random.key_impl(ref))
    return a
  return jax.tree.map(one, tree, like)


def write_json(path: str, obj) -> None:
  """JSON written atomically (temp file in the same folder, then rename)."""
  tmp = f'{path}.tmp{os.getpid()}'
  with open(tmp, 'w') as f:
    json.dump(obj, f)
    f.flush()
    os.fsync(f.fileno())
  os.replace(tmp, path)


class GroupCheckpoint:
  """The snapshots of one group's fit (see the module docstring)."""

  def __init__(self, directory: str, every_s: float, clock=time.monotonic):
    self.directory, self.every_s, self.clock = directory, every_s, clock
    self.last = clock()

  def due(self) -> bool:
    return self.every_s > 0 and self.clock() - self.last >= self.every_s

  def meta(self) -> dict | None:
    path = os.path.join(self.directory, META)
    if not os.path.isfile(path):
      return None
    with open(path) as f:
      return json.load(f)

  def save(self, arrays: dict, meta: dict) -> None:
    """Writes a snapshot: `arrays` (a pytree of host arrays), `meta` (JSON)."""
    import orbax.checkpoint as ocp
    os.makedirs(self.directory, exist_ok=True)
    old = self.meta()
    name = f'{int(meta["pos"]):08d}_{time.time_ns()}'
    with ocp.StandardCheckpointer() as ckptr:
      ckptr.save(os.path.join(os.path.abspath(self.directory), name),
                 to_host(arrays))
      ckptr.wait_until_finished()
    write_json(os.path.join(self.directory, META), {**meta, 'snapshot': name})
    if old and old.get('snapshot') and old['snapshot'] != name:
      shutil.rmtree(os.path.join(self.directory, old['snapshot']),
                    ignore_errors=True)
    self.last = self.clock()

  def restore(self, like: dict):
    """(arrays shaped as `like`, meta) of the latest snapshot, or None."""
    meta = self.meta()
    if meta is None:
      return None
    import orbax.checkpoint as ocp
    target = to_host(like)
    with ocp.StandardCheckpointer() as ckptr:
      arrays = ckptr.restore(
          os.path.join(os.path.abspath(self.directory), meta['snapshot']),
          target)
    return from_host(arrays, like), meta


class RunCheckpoint:
  """A run's checkpoint folder: one GroupCheckpoint per group of images.

  every_s: seconds between snapshots during a fit (0: only when a group ends
  or the run is interrupted).
  """

  def __init__(self, directory: str, every_s: float = 300.0):
    self.directory, self.every_s = directory, float(every_s)

  def group(self, gi: int) -> GroupCheckpoint:
    return GroupCheckpoint(os.path.join(self.directory, f'group_{gi}'),
                           self.every_s)

  def exists(self) -> bool:
    return os.path.isdir(self.directory) and any(
        os.path.isfile(os.path.join(self.directory, g, META))
        for g in os.listdir(self.directory))

  def describe(self) -> str:
    """What was found, e.g. 'group 0 at step 300/1900, group 1 finished'."""
    parts = []
    for g in sorted(os.listdir(self.directory)) if os.path.isdir(
        self.directory) else []:
      meta = GroupCheckpoint(os.path.join(self.directory, g), 0).meta()
      if meta:
        label = g.replace('_', ' ')
        parts.append(f'{label} finished' if meta['finished'] else
                     f'{label} at step {meta["pos"]}/{meta["steps"]}')
    return ', '.join(parts) or 'nothing'

  def remove(self) -> None:
    shutil.rmtree(self.directory, ignore_errors=True)


# Fields that may change between an interrupted run and its resumption.
RESUME_FREE = ('output.',)


def config_diff(saved: dict, config: dict, free=RESUME_FREE) -> list[str]:
  """'field: saved -> new' for each config field that differs (flattened
  dotted names), leaving out fields under the prefixes `free`, and fields
  absent from `saved` whose new value is off ('', False, None, empty): a
  setting added to dd_jax after the run started, left at its off default,
  does not stop the run from resuming."""
  def flat(d, prefix=''):
    out = {}
    for k, v in d.items():
      if isinstance(v, dict):
        out.update(flat(v, f'{prefix}{k}.'))
      else:
        out[f'{prefix}{k}'] = v
    return out
  a, b = flat(saved), flat(config)
  diffs = []
  for name in sorted(set(a) | set(b)):
    if any(name.startswith(p) for p in free):
      continue
    if name not in a and _is_off(b[name]):
      continue
    if a.get(name, '<absent>') != b.get(name, '<absent>'):
      diffs.append(f'{name}: {a.get(name, "<absent>")!r} -> '
                   f'{b.get(name, "<absent>")!r}')
  return diffs


def _is_off(value) -> bool:
  return value is None or value is False or (
      isinstance(value, (str, list, tuple)) and len(value) == 0)


# ----------------------------------------------------------- a run's session
_session = []  # the active Session, if any


class Session:
  """Checkpoints for every `fit_images` call inside a `with session(...)`:
  call i gets `RunCheckpoint(<directory>/call_<i>)`, so a launcher that makes
  several calls (an experiment's runs) resumes call by call, a finished call
  being read back instead of fitted."""

  def __init__(self, directory: str, every_s: float):
    self.directory, self.every_s, self.calls = directory, every_s, 0

  def next(self) -> RunCheckpoint:
    ckpt = RunCheckpoint(os.path.join(self.directory, f'call_{self.calls}'),
                         self.every_s)
    self.calls += 1
    return ckpt

  def exists(self) -> bool:
    return os.path.isdir(self.directory) and any(
        RunCheckpoint(os.path.join(self.directory, c)).exists()
        for c in os.listdir(self.directory))

  def describe(self) -> str:
    """What an interrupted run left, call by call."""
    if not os.path.isdir(self.directory):
      return 'nothing'
    calls = sorted(os.listdir(self.directory),
                   key=lambda c: int(c.split('_')[-1]))
    parts = [f'{c.replace("_", " ")}: {RunCheckpoint(os.path.join(self.directory, c)).describe()}'
             for c in calls]
    return '; '.join(parts) or 'nothing'

  def remove(self) -> None:
    shutil.rmtree(self.directory, ignore_errors=True)


class session:  # noqa: N801 (a context manager, used as a function)
  """`with session(directory, every_s) as s:` makes `current()` return s."""

  def __init__(self, directory: str, every_s: float = 300.0):
    self.value = Session(directory, every_s)

  def __enter__(self) -> Session:
    _session.append(self.value)
    return self.value

  def __exit__(self, *exc):
    _session.remove(self.value)
    return False


def current() -> Session | None:
  return _session[-1] if _session else None
