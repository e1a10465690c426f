"""What a run shows on the terminal: INFO log lines and a progress bar.

    log_to_terminal()          # in an entry point: INFO lines, plain format
    bar = Progress(total=len(names) * config.fit.steps)
    bar.update(image_steps, note); bar.close()
"""

import logging as std_logging
import sys
import time

from absl import logging

from dd_jax.fitting import format_duration


class _PlainFormatter(std_logging.Formatter):
  """The message alone; warnings and errors keep their level name."""

  def format(self, record):
    text = record.getMessage()
    if record.levelno >= std_logging.WARNING:
      text = f'{record.levelname}: {text}'
    return text


_QUIET = ('orbax',)  # libraries that log through absl at INFO


def _quiet_libraries(record) -> bool:
  """Drops those libraries' INFO lines (e.g. orbax's per checkpoint)."""
  if record.levelno >= std_logging.WARNING:
    return True
  parts = record.pathname.replace('\\', '/').split('/')
  return not any(q in parts for q in _QUIET)


def log_to_terminal(stream=None) -> None:
  """Shows dd_jax's absl INFO lines on `stream` (default stdout) without
  absl's long prefix; other libraries' loggers are left as they are."""
  logger = logging.get_absl_logger()
  stream = stream or sys.stdout
  for h in logger.handlers:
    if getattr(h, 'dd_jax_terminal', False):
      h.setStream(stream)
      return
  handler = std_logging.StreamHandler(stream)
  handler.setFormatter(_PlainFormatter())
  handler.addFilter(_quiet_libraries)
  handler.dd_jax_terminal = True
  logger.addHandler(handler)
  logger.setLevel(std_logging.INFO)
  logger.propagate = False


class Progress:
  """One progress bar over a whole experiment (image-steps), with ETA."""

  def __init__(self, total: int, desc: str = 'experiment', stream=None):
    self.total, self.done, self.desc = max(int(total), 1), 0, desc
    self.stream = stream or sys.stdout
    self.t0 = time.time()
    self._last = 0.0

  def update(self, amount: int, note: str = ''):
    self.done = min(self.done + int(amount), self.total)
    now = time.time()
    if now - self._last < 0.5 and self.done < self.total:
      return
    self._last = now
    frac = self.done / self.total
    elapsed = now - self.t0
    eta = elapsed / frac - elapsed if frac > 0 else 0.0
    bar = '#' * int(30 * frac) + '.' * (30 - int(30 * frac))
    self.stream.write(f'\r[{self.desc}] [{bar}] {100 * frac:5.1f}% '
                      f'{self.done}/{self.total} image-steps | '
                      f'{format_duration(elapsed)} elapsed, ETA '
                      f'{format_duration(eta)} {note[:40]:<40}')
    self.stream.flush()

  def close(self):
    self.done = self.total
    self._last = 0.0
    self.update(0)
    self.stream.write('\n')
    self.stream.flush()
