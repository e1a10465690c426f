"""Keep freed memory in the process so big activation buffers are reused.

XLA's CPU client allocates a fresh buffer for every large intermediate of a
step (a 512x512x64 float32 activation is 67 MB). glibc serves allocations
this large with mmap and returns them to the kernel on free, so each step
page-faults every buffer in again: on this machine that made an elementwise
op over 67 MB cost ~150 ms instead of ~15 ms (benchmarks/README.md).

`tune_malloc()` sets glibc's malloc (through `mallopt`, at run time) to one
arena, no mmap for big blocks and no trimming, so freed buffers are reused.
It is the in-process equivalent of the environment variables
MALLOC_ARENA_MAX=1 MALLOC_MMAP_MAX_=0 MALLOC_TRIM_THRESHOLD_=<huge>; with
tcmalloc preloaded (LD_PRELOAD=libtcmalloc_minimal.so.4) it does nothing.
Call it once, early, before large arrays exist. Memory freed by a fit stays
reserved by the process until it exits (peak RSS is unchanged).
"""

import ctypes
import ctypes.util
import os

_M_TRIM_THRESHOLD = -1
_M_TOP_PAD = -2
_M_MMAP_MAX = -4
_M_ARENA_MAX = -8


def tune_malloc() -> bool:
  """Returns True if glibc accepted the settings (False elsewhere: no-op)."""
  if 'tcmalloc' in os.environ.get('LD_PRELOAD', ''):
    return False
  try:
    libc = ctypes.CDLL(ctypes.util.find_library('c') or 'libc.so.6')
    mallopt = libc.mallopt
  except (OSError, AttributeError):
    return False
  ok = mallopt(_M_ARENA_MAX, 1)
  ok &= mallopt(_M_MMAP_MAX, 0)
  ok &= mallopt(_M_TRIM_THRESHOLD, 2**31 - 1)  # int: ~2 GB, never reached.
  ok &= mallopt(_M_TOP_PAD, 64 << 20)
  return bool(ok)
