"""Shared test set-up: small sizes, the optional ../shared folder, and one
persistent XLA compilation cache for the whole session.

The suite is compile-bound: every `fit_images` call, launcher subprocess and
xdist worker would compile the same fit step again. JAX's persistent
compilation cache, set here through the environment before jax is imported
(so the subprocesses the tests start inherit it), compiles each program once
per machine: a 32x32 fit's first call 68 s on a loaded machine, 5.6 s in a
new process with the cache. DD_JAX_TEST_CACHE overrides the folder ('' off).
"""

import os
import sys
import tempfile

_CACHE = os.environ.get('DD_JAX_TEST_CACHE', os.path.join(
    tempfile.gettempdir(), f'dd_jax_test_xla_cache_{os.getuid()}'))
if _CACHE:
  os.environ.setdefault('JAX_COMPILATION_CACHE_DIR', _CACHE)
  os.environ.setdefault('JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS', '0')
  os.environ.setdefault('JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES', '0')

import pytest  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED = os.path.join(os.path.dirname(REPO), 'shared')
SHARED_IMAGES = os.path.join(SHARED, 'images')

if REPO not in sys.path:
  sys.path.insert(0, REPO)


def shared_image(name: str) -> str:
  """Path of ../shared/images/<name>; skips the test when it is absent."""
  path = os.path.join(SHARED_IMAGES, name)
  if not os.path.isfile(path):
    pytest.skip(f'{path} not present')
  return path
