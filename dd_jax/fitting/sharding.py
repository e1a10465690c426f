"""Images over devices and processes: a one-axis mesh ('images',).

    mesh = make_mesh()                        # all local devices, axis 'images'
    result = fit(keys, spec, op.forward, ys, auxs, mesh=mesh, **fit_kwargs)

Inside a process, `make_chunk_fn(mesh)` wraps fit.py's vmapped chunk in
`jax.shard_map`: every per-image leaf is sharded `P('images')`, the step
count `n` is replicated, and the image count is padded to a multiple of the
device count (repeating the last image) and unpadded after. One device is a
mesh of size 1 and takes the same path.

Across processes (`initialize_distributed`, e.g. two CPU processes on one
machine with gloo collectives), `fit` gives each process a contiguous share
of the images, fits it on that process's devices, and all-gathers the
results so every process returns the same `FitResult` for all N images.
"""

import math
import os

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh
from jax.sharding import NamedSharding
from jax.sharding import PartitionSpec as P

from dd_jax import fitting as fit_lib
from dd_jax.errors import UserError

AXIS = 'images'


def make_mesh(devices=None) -> Mesh:
  """A one-axis mesh ('images',) over `devices` (default: this process's)."""
  devices = list(devices if devices is not None else jax.local_devices())
  return Mesh(np.array(devices), (AXIS,))


def pad_images(tree, multiple: int):
  """Pads the leading (image) axis of every leaf to a multiple of `multiple`
  by repeating the last image."""
  def pad(a):
    extra = -a.shape[0] % multiple
    if not extra:
      return a
    return jnp.concatenate([a, jnp.repeat(a[-1:], extra, axis=0)], axis=0)
  return jax.tree.map(pad, tree)


def unpad_images(tree, n: int):
  return jax.tree.map(lambda a: a[:n], tree)


def make_chunk_fn(mesh: Mesh):
  """`chunk_fn` for `fit.fit`: runs the batched chunk under shard_map."""

  def wrap(chunk):
    sharded = jax.shard_map(chunk, mesh=mesh, in_specs=(P(AXIS), P(AXIS), P()),
                            out_specs=(P(AXIS), P(AXIS)), check_vma=False)

    def run(state, batch, n):
      count = jax.tree.leaves(state)[0].shape[0]
      state, batch = pad_images((state, batch), mesh.size)
      state, losses = sharded(state, batch, n)
      return unpad_images((state, losses), count)

    run.place = lambda tree: place_images(tree, mesh)
    return run

  return wrap


def place_images(tree, mesh: Mesh):
  """Puts every leaf on `mesh`, split along its image axis, where the image
  count divides evenly: the layout the sharded chunk returns, so the fit's
  first call compiles for the layout of every later one (else XLA compiles
  the chunk twice)."""
  sharding = NamedSharding(mesh, P(AXIS))
  put = lambda a: (jax.device_put(a, sharding)
                   if a.ndim and a.shape[0] % mesh.size == 0 else a)
  return jax.tree.map(put, tree)


# -------------------------------------------------------------- multi-process
def initialize_distributed(coordinator: str = '', num_processes: int = 0,
                           process_id: int = -1):
  """`jax.distributed.initialize` when a coordinator is given (arguments, or
  the environment variables DD_JAX_COORDINATOR, DD_JAX_NUM_PROCESSES,
  DD_JAX_PROCESS_ID). On CPU the collectives use gloo. Returns True if it
  initialized."""
  coordinator = coordinator or os.environ.get('DD_JAX_COORDINATOR', '')
  if not coordinator:
    return False
  num_processes = num_processes or int(os.environ.get('DD_JAX_NUM_PROCESSES',
                                                      0))
  if process_id < 0:
    process_id = int(os.environ.get('DD_JAX_PROCESS_ID', -1))
  if num_processes < 1 or not 0 <= process_id < num_processes:
    raise UserError(
        f'With a coordinator ({coordinator}) give --num_processes >= 1 and '
        f'--process_id in [0, num_processes); got {num_processes} and '
        f'{process_id}.')
  jax.config.update('jax_cpu_collectives_implementation', 'gloo')
  jax.distributed.initialize(coordinator_address=coordinator,
                             num_processes=num_processes,
                             process_id=process_id)
  return True


def process_share(n: int, process: int, count: int) -> np.ndarray:
  """Image indices process `process` of `count` fits: a contiguous block of
  ceil(n / count), the last index repeated where the block runs past n."""
  share = math.ceil(n / count)
  return np.minimum(np.arange(process * share, (process + 1) * share), n - 1)


def _allgather(x, n):
  """[share, ...] per process -> [n, ...] in image order, on every process."""
  from jax.experimental import multihost_utils
  out = np.asarray(multihost_utils.process_allgather(np.asarray(x)))
  return out.reshape(-1, *out.shape[2:])[:n]


def fit(keys, spec, forward_fn, ys, auxs, *, mesh: Mesh | None = None,
        shard: bool = True, clean=None, callback=None, verbose: bool = True,
        **kwargs) -> fit_lib.FitResult:
  """`fit.fit` over all devices of all processes; same arguments and result.

  shard=False fits without shard_map (plain vmap on the default device).
  """
  chunk_fn = make_chunk_fn(mesh or make_mesh()) if shard else None
  count = jax.process_count()
  if count == 1:
    return fit_lib.fit(keys, spec, forward_fn, ys, auxs, clean=clean,
                       callback=callback, verbose=verbose, chunk_fn=chunk_fn,
                       **kwargs)
  n = keys.shape[0]
  idx = process_share(n, jax.process_index(), count)
  take = lambda tree: jax.tree.map(lambda a: a[idx], tree)
  if kwargs.get('stopper') is not None:
    raise UserError('Stopping rules (fit.stop) run in single-process fits '
                    'only; use fit.stop=budget with --coordinator.')
  if kwargs.get('weights') is not None:
    kwargs['weights'] = take(kwargs['weights'])
  if kwargs.get('hparams'):
    kwargs['hparams'] = take(kwargs['hparams'])
  history = []

  def gathered(record):  # Every process logs the same steps: safe to gather.
    record = dict(record)
    for k in ('loss', 'psnr', 'psnr_current', 'psnr_ema'):
      if k in record:
        record[k] = [float(v) for v in _allgather(np.asarray(record[k]), n)]
    if 'probe' in record:  # fit.fit's probe: one nested list per image.
      record['probe'] = _allgather(np.asarray(record['probe']), n).tolist()
    history.append(record)
    if callback is not None:
      callback(record)

  res = fit_lib.fit(take(keys), spec, forward_fn, take(ys), take(auxs),
                    clean=None if clean is None else take(clean),
                    callback=gathered,
                    verbose=verbose and jax.process_index() == 0,
                    chunk_fn=chunk_fn, **kwargs)
  g = lambda tree: jax.tree.map(lambda a: _allgather(a, n), tree)
  return fit_lib.FitResult(
      params=g(res.params), best_params=g(res.best_params),
      inputs=g(res.inputs), restored=g(res.restored), losses=g(res.losses),
      history=history, alive=g(res.alive), seconds=res.seconds,
      ema=None if res.ema is None else g(res.ema), compile_s=res.compile_s,
      diverged_steps=g(res.diverged_steps), steps_run=res.steps_run)
