"""The workdir of a run: checked before anything is written, never mixed
with another run, never a place where a user's file is replaced.

    plan = check(workdir, overwrite=False, outputs=names)   # writes nothing
    start(plan, config_json)   # creates it; an old run is moved aside whole
    ...                        # the run writes its files
    finish(workdir)            # marks the run finished

A run's folder holds `config.json` and the marker `.dd_jax_run` (JSON: the
dd_jax version, the run's status, and the names of files that were in the
folder before the run and are not its own). A folder holding files that are
not a run is refused unless `allow_other_files`, and even then no output may
take the name of one of them. Overwriting moves the old run's files into a
hidden `.dd_jax_replaced-*` folder only once the new run has validated, and
removes it once the new run has written its config.json.
"""

import dataclasses
import json
import os
import shutil

from dd_jax.errors import UserError

MARKER = '.dd_jax_run'
CONFIG = 'config.json'
RUN_MARKER = CONFIG  # What marked a run before MARKER (still read).
REPLACED = '.dd_jax_replaced'
CHECKPOINT = 'checkpoint'  # The fit's checkpoints (dd_jax.fitting).
OWN = (MARKER, CONFIG, CHECKPOINT)  # Names every run may write.


@dataclasses.dataclass(frozen=True)
class Plan:
  """What `start` will do with `path`.

  held: it holds an earlier run, replaced by `start` (unless `resume`).
  resume: the run held there is continued: `start` moves nothing.
  kept: the user's files in it, left alone.
  status: the held run's marker status ('running', 'finished', ...) or None.
  """
  path: str
  held: bool = False
  resume: bool = False
  kept: tuple[str, ...] = ()
  status: str | None = None


def check(workdir: str, *, overwrite: bool = False,
          allow_other_files: bool | None = False, resume: bool = False,
          outputs=(), markers=(CONFIG,), other_way: str = '') -> Plan:
  """Checks that a run may write `outputs` into `workdir`; writes nothing.

  Refuses (UserError) a path that is a file, lies under a file or cannot be
  written; a folder holding a run (`MARKER` or any of `markers`) unless
  `overwrite` or `resume`; a folder holding other files unless
  `allow_other_files` (None: a config without that option), and then any
  output named like one of them.
  other_way: a further way out named in the refusal of a held run.
  """
  if not workdir:
    raise UserError('Give --workdir, the folder the run writes to.')
  _check_place(workdir)
  if not os.path.exists(workdir):
    return Plan(workdir)
  entries = _entries(workdir)
  held = any(m in entries for m in (MARKER, *markers))
  if held:
    info = read_marker(workdir) or {}
    status = info.get('status')
    kept = tuple(n for n in info.get('kept', ()) if n in entries)
    if not (overwrite or resume):
      unfinished = status in ('running', 'interrupted')
      note = (' (unfinished: it was interrupted or failed)' if unfinished
              else '')
      cont = ''
      if unfinished and CHECKPOINT in entries:
        from dd_jax.fitting import checkpoint  # What the checkpoint holds.
        found = checkpoint.Session(os.path.join(workdir, CHECKPOINT),
                                   0).describe()
        note = f' (interrupted; its checkpoint: {found})'
        cont = 'pass --config.output.resume=True to continue it, '
      raise UserError(
          f'{workdir!r} already holds a run{note}; {cont}choose another '
          '--workdir, ' + (f'{other_way}, ' if other_way else '')
          + 'or pass --config.output.overwrite=True to replace it.')
    _check_clashes(workdir, kept, outputs)
    return Plan(workdir, held=True, resume=resume and not overwrite,
                kept=kept, status=status)
  if entries and not allow_other_files:
    option = ('' if allow_other_files is None else
              ', or pass --config.output.allow_other_files=True to write '
              'beside them (none of them is replaced)')
    raise UserError(
        f'{workdir!r} holds files that are not a dd_jax run (e.g. '
        f'{sorted(entries)[0]!r}); choose a new or empty --workdir{option}.')
  _check_clashes(workdir, tuple(entries), outputs)
  return Plan(workdir, kept=tuple(sorted(entries)))


def start(plan: Plan, config_json: str):
  """Creates `plan.path`, moves an earlier run aside (all of it), writes the
  marker and config.json, then removes the earlier run. A resumed run keeps
  its files and gets the new config.json."""
  from dd_jax.io import writers  # Images and numpy: not needed to check.
  path = plan.path
  try:
    os.makedirs(path, exist_ok=True)
    if plan.held and not plan.resume:
      _move_aside(plan)
    write_marker(path, 'running', plan.kept)
    writers.write_text(os.path.join(path, CONFIG), config_json)
    for name in os.listdir(path):  # This one and interrupted earlier ones.
      if name.startswith(REPLACED) and name not in plan.kept:
        shutil.rmtree(os.path.join(path, name), ignore_errors=True)
  except OSError as e:
    raise UserError(f'Cannot write the run into --workdir {path!r}: '
                    f'{e.strerror or e}.') from None


def finish(workdir: str, status: str = 'finished'):
  """Marks the run in `workdir` `status` (its files are all written)."""
  info = read_marker(workdir) or {}
  write_marker(workdir, status, info.get('kept', ()))


def read_marker(workdir: str) -> dict | None:
  """The marker of the run in `workdir`, or None (none, or unreadable)."""
  try:
    with open(os.path.join(workdir, MARKER)) as f:
      info = json.load(f)
  except (OSError, ValueError):
    return None
  return info if isinstance(info, dict) else None


def is_finished(workdir: str) -> bool:
  return (read_marker(workdir) or {}).get('status') == 'finished'


def write_marker(workdir: str, status: str, kept=()):
  from dd_jax import __version__
  from dd_jax.io import writers
  writers.write_json(os.path.join(workdir, MARKER), {
      'dd_jax': __version__, 'status': status, 'kept': sorted(kept)})


def _check_place(workdir: str):
  """A path that is (or can become) a folder this process writes to."""
  if os.path.exists(workdir) and not os.path.isdir(workdir):
    raise UserError(f'--workdir {workdir!r} is a file, not a folder; choose '
                    'a folder (new or empty).')
  here = os.path.abspath(workdir)
  while not os.path.exists(here):
    here = os.path.dirname(here)
  if not os.path.isdir(here):
    raise UserError(f'--workdir {workdir!r} cannot be created: {here!r} is a '
                    'file, not a folder.')
  if not os.access(here, os.W_OK | os.X_OK):
    what = 'is' if here == os.path.abspath(workdir) else 'would be made in'
    raise UserError(f'--workdir {workdir!r} {what} a folder this user cannot '
                    f'write to ({here!r}); choose another --workdir.')


def _entries(workdir: str) -> set[str]:
  """The names in `workdir`, less the leftovers of an interrupted replace."""
  try:
    names = os.listdir(workdir)
  except OSError as e:
    raise UserError(f'Cannot read --workdir {workdir!r}: {e.strerror}.'
                    ) from None
  return {n for n in names if not n.startswith(REPLACED)}


def _check_clashes(workdir: str, kept, outputs):
  """Refuses outputs named like (case aside) one of the user's files."""
  mine = {n.lower(): n for n in kept}
  clash = sorted(mine[n.lower()] for n in (*OWN, *outputs)
                 if n.lower() in mine)
  if clash:
    more = f' (and {len(clash) - 1} more)' if len(clash) > 1 else ''
    raise UserError(
        f'{workdir!r} holds {clash[0]!r}{more}, a name this run would write '
        'to; a file of yours is never replaced: choose a new or empty '
        '--workdir.')


def _move_aside(plan: Plan):
  """Moves the held run's files (not `kept`) into a hidden folder in
  `plan.path`; its marker and config.json go last, so an interrupted move
  leaves a folder still marked as (part of) the old run."""
  aside = os.path.join(plan.path, f'{REPLACED}-{os.getpid()}')
  os.makedirs(aside, exist_ok=True)
  names = [n for n in os.listdir(plan.path)
           if n not in plan.kept and not n.startswith(REPLACED)]
  last = [n for n in (MARKER, CONFIG) if n in names]
  for name in [n for n in names if n not in last] + last:
    os.rename(os.path.join(plan.path, name), os.path.join(aside, name))
