"""Shared test set-up: small sizes, the optional ../shared folder."""

import os
import sys

import pytest

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
