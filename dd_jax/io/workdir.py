"""The workdir of a run: created fresh, never mixed with an earlier run."""

import os

from dd_jax.errors import UserError

RUN_MARKER = 'config.json'


def prepare_workdir(workdir: str, overwrite: bool, markers=(RUN_MARKER,),
                    other_way: str = ''):
  """Creates `workdir`; refuses one holding any of `markers` (a run) unless
  `overwrite`. `other_way`: a further way out named in the message."""
  if not workdir:
    raise UserError('Give --workdir, the folder the run writes to.')
  held = any(os.path.exists(os.path.join(workdir, m)) for m in markers)
  if held and not overwrite:
    raise UserError(
        f'{workdir!r} already holds a run; choose another --workdir, '
        + (f'{other_way} ' if other_way else '')
        + 'or pass --config.output.overwrite=True to replace it.')
  os.makedirs(workdir, exist_ok=True)
