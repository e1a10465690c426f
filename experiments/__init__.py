"""Paper experiments: one config + one launcher per table or figure."""

import os

_REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def shared_images(name: str = '') -> str:
  """Path of the authors' test images folder (or a file in it), or '' when
  absent: $DD_JAX_SHARED_IMAGES, else ../shared/images next to the repo (or
  one level further up, for git worktrees)."""
  candidates = [os.environ.get('DD_JAX_SHARED_IMAGES', ''),
                os.path.join(_REPO, '..', 'shared', 'images'),
                os.path.join(_REPO, '..', '..', 'shared', 'images')]
  for folder in candidates:
    if folder and os.path.isdir(folder):
      path = os.path.normpath(os.path.join(folder, name))
      return path if os.path.exists(path) else ''
  return ''
