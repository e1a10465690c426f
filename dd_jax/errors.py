"""Errors a user can fix (bad file, bad config value); shown without traceback."""

import contextlib
import sys


class UserError(ValueError):
  """A problem with the user's input; the message names it and the fix."""


def fail(message: str):
  """Ends a command-line run on a user error: one `error:` line, exit 2."""
  line = ' '.join(part.strip() for part in str(message).splitlines())
  print(f'error: {line.strip() or "invalid input"}', file=sys.stderr)
  sys.exit(2)


@contextlib.contextmanager
def user_errors_exit(cleanup=None):
  """Runs the block; a UserError ends the run through `fail` (after
  `cleanup()`, when given)."""
  try:
    yield
  except UserError as e:
    if cleanup:
      cleanup()
    fail(str(e))


@contextlib.contextmanager
def flag_errors_exit():
  """Turns an error from defining or parsing flags (bad flag, config file,
  preset or `--config.<field>` override) into one `error:` line, exit 2."""
  from absl import flags
  try:
    yield
  except (flags.Error, OSError, ValueError, TypeError, AttributeError,
          KeyError) as e:
    fail(_last_line(e))


def parse_flags(argv):
  """absl `flags_parser` for `app.run` with `flag_errors_exit`; also loads
  each config flag now (a config file fails to load only on access)."""
  from absl import flags
  with flag_errors_exit():
    rest = flags.FLAGS(argv)
    for name in list(flags.FLAGS):
      getattr(flags.FLAGS[name].value, '_probe', None)
    return rest


def _last_line(e: Exception) -> str:
  """The message a user can act on from a (possibly chained) flags error."""
  if isinstance(e, (KeyError, AttributeError)):
    import re
    text = str(e).replace('\\n', '\n').replace('\\', '')
    # "'x'", "'x'\nDid you mean ...", "x is not a ...": the first name.
    key = (re.findall(r'[A-Za-z_][\w-]*', text) or ['?'])[0]
    guess = re.search(r'Did you mean "([\w-]+)"', text)
    given = [a for a in sys.argv[1:] if a.startswith('--config.')
             and key in a.split('=')[0].split('.')]
    return (f'unknown config field {key!r}'
            + (f' in {given[0]}' if given else '')
            + (f' (did you mean {guess.group(1)!r}?)' if guess else '')
            + '; the config file lists the fields it has.')
  lines = [l.strip() for l in str(e).splitlines() if l.strip()]
  for line in reversed(lines):
    if 'Error: ' in line and not line.startswith('File '):
      return line.split('Error: ', 1)[1]
  if 'No such file or directory' in str(e):
    missing = [l for l in lines if 'No such file' in l]
    return f'config file not found ({missing[-1]}); check --config=<file.py>[:preset].'
  return lines[-1] if lines else type(e).__name__
