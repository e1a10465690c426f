"""The memory guard: a fit's compiled step against the device's free memory.

    need = step_bytes(compiled)            # XLA's own estimate, per device
    free = free_bytes(device)              # None where it cannot be known
    check(need, free, n_images, shape)     # UserError with a suggestion

On CPU the fit falls back to fitting the images one by one inside the
compiled call (peak memory of one image) before refusing; see loop.fit.
"""

import jax

from dd_jax.errors import UserError

MARGIN = 0.9  # the share of the free memory a fit may plan to use


def step_bytes(compiled) -> int:
  """Peak bytes of a compiled call on one device (arguments, outputs and
  temporaries, as XLA's buffer assignment counts them)."""
  try:
    m = compiled.memory_analysis()
  except Exception:  # Not every backend reports it.
    return 0
  if m is None:
    return 0
  total = (m.argument_size_in_bytes + m.output_size_in_bytes
           + m.temp_size_in_bytes - m.alias_size_in_bytes)
  return int(max(total, getattr(m, 'peak_memory_in_bytes', 0) or 0))


def free_bytes(device=None) -> int | None:
  """Free bytes of `device` (default the first): the accelerator's
  limit less what is in use, or on CPU the host's available memory."""
  device = device or jax.local_devices()[0]
  try:
    stats = device.memory_stats()
  except Exception:
    stats = None
  if stats and 'bytes_limit' in stats:
    return int(stats['bytes_limit'] - stats.get('bytes_in_use', 0))
  if device.platform == 'cpu':
    try:
      with open('/proc/meminfo') as f:
        for line in f:
          if line.startswith('MemAvailable:'):
            return int(line.split()[1]) * 1024
    except OSError:
      return None
  return None


def fits(need: int, free: int | None) -> bool:
  return free is None or need <= MARGIN * free


def refuse(need: int, free: int, n: int, shape, device) -> None:
  """The UserError for a fit that does not fit, with what to change."""
  gib = lambda b: f'{b / 2**30:.2f} GiB'
  per_call = max(1, int(n * MARGIN * free / max(need, 1)))
  fewer = (f'set fit.images_per_call={per_call} (of {n}), ' if n > 1 else '')
  raise UserError(
      f'The fit of {n} image(s) {"x".join(map(str, shape))} needs about '
      f'{gib(need)} on {device.platform}:{device.id} but {gib(free)} is '
      f'free; {fewer}lower model.k or use a smaller data.size.')
