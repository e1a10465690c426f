"""SIGINT / SIGTERM as a request to stop after the current chunk.

    with interrupt.catching():        # dd_jax.run: the command-line run
      ...fit...                       # loop.fit polls interrupt.requested()

Inside `catching()` the first SIGINT (Ctrl-C) or SIGTERM only records the
request: the fit finishes its compiled chunk, writes a checkpoint and raises
`Interrupted`. A second SIGINT quits at once (KeyboardInterrupt). Outside
`catching()` (library use) signals behave as Python's defaults.
"""

import contextlib
import signal
import threading

from absl import logging

_requested = [None]  # The signal number asked for, or None.


class Interrupted(Exception):
  """A fit stopped on a signal after its current chunk.

  signum: the signal; step: the step reached (of the group being fitted);
  result: what was fitted so far (a loop.FitResult or, from the engine, a
  FitImagesResult with None for images not started).
  """

  def __init__(self, signum: int, step: int = 0, result=None):
    super().__init__(f'interrupted by signal {signum} at step {step}')
    self.signum, self.step, self.result = signum, step, result

  @property
  def exit_code(self) -> int:
    return 128 + int(self.signum)  # 130 for SIGINT, 143 for SIGTERM


def requested():
  """The signal number of a pending stop request, or None."""
  return _requested[0]


def request(signum: int = signal.SIGINT):
  """Asks the running fit to stop after its current chunk (also for tests)."""
  _requested[0] = signum


def _handler(signum, frame):
  if _requested[0] is not None and signum == signal.SIGINT:
    raise KeyboardInterrupt  # The second Ctrl-C: quit now.
  _requested[0] = signum
  logging.warning('[run] %s: stopping after the current chunk and writing a '
                  'checkpoint (Ctrl-C again quits at once, without one).',
                  signal.Signals(signum).name)


@contextlib.contextmanager
def catching():
  """Turns SIGINT/SIGTERM into stop requests inside the block (main thread
  only; elsewhere a no-op). The request is cleared on entry and exit."""
  if threading.current_thread() is not threading.main_thread():
    yield
    return
  _requested[0] = None
  old = {s: signal.signal(s, _handler) for s in (signal.SIGINT,
                                                 signal.SIGTERM)}
  try:
    yield
  finally:
    for s, h in old.items():
      signal.signal(s, h)
    _requested[0] = None
