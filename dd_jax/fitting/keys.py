"""The one home of a fit's PRNG keys; every fit start derives them here.

    root = root_key(config.seed)
    k = image_key(root, i)                  # image i of the run
    fit_key(k), aux_key(k), noise_key(k)    # params/input/jitter, operator
                                            # data, measurement noise
    stopper_key(root, group)                # a stopping rule's draws
    k_params, k_input, k_jitter = split_fit_key(fit_key(k))   # in the fit
    member_key(fit_key(k), m)               # ensemble member m (0: fit_key)

Fitting images together or one by one gives the same result for the same
keys, so an image's result depends only on the seed and its index.
"""

import jax


def root_key(seed) -> jax.Array:
  return jax.random.key(int(seed))


def image_key(root: jax.Array, index: int) -> jax.Array:
  return jax.random.fold_in(root, index)


def fit_key(key: jax.Array) -> jax.Array:
  return jax.random.fold_in(key, 0)


def aux_key(key: jax.Array) -> jax.Array:
  return jax.random.fold_in(key, 1)


def noise_key(key: jax.Array) -> jax.Array:
  return jax.random.fold_in(key, 2)


def member_key(key: jax.Array, member: int) -> jax.Array:
  """The fit key of ensemble member `member` of an image with fit key `key`:
  member 0 is the plain fit, so fit.ensemble=1 is the single fit."""
  return key if member == 0 else jax.random.fold_in(key, 1_000 + member)


def stopper_key(root: jax.Array, group: int) -> jax.Array:
  return jax.random.fold_in(root, 10_000 + group)


def split_fit_key(key: jax.Array) -> tuple[jax.Array, jax.Array, jax.Array]:
  """A fit key's (params init, fixed input B0, input jitter) keys.

  The codec regenerates B0 from a stored seed with this split, so it must
  not change (a .ddz file would decode to another image).
  """
  k_params, k_input, k_jitter = jax.random.split(key, 3)
  return k_params, k_input, k_jitter
