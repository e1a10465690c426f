"""Compressive sensing matrices against direct numpy constructions."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from dd_jax import configurable
from dd_jax.errors import UserError
from dd_jax.inverse import cs


def rand(shape, seed):
  return np.asarray(jax.random.uniform(jax.random.key(seed), shape),
                    np.float64)


def test_cs_gaussian_matches_numpy():
  shape = (8, 10, 1)  # n = 80: two blocks, the second zero-padded
  op = cs.gaussian(shape, block=64, ratio=4.0, seed=7)
  x = rand(shape, 6)
  rng = np.random.default_rng(7)
  perm = rng.permutation(80)
  g = rng.standard_normal((16, 64)) / 4.0
  v = np.concatenate([x.reshape(-1)[perm], np.zeros(48)]).reshape(2, 64)
  np.testing.assert_allclose(op.forward(jnp.asarray(x, jnp.float32), {}),
                             (v @ g.T).reshape(-1), atol=1e-5)
  assert not op.clip


def test_cs_conv_matches_direct_circular_convolution():
  shape = (6, 8, 2)
  op = cs.conv(shape, ratio=2.0, seed=1)
  x = rand(shape, 7)
  rng = np.random.default_rng(1)
  h = rng.standard_normal((6, 8)) / np.sqrt(48)
  keep = np.sort(rng.choice(96, 48, replace=False))
  full = np.zeros(shape)
  for i in range(6):
    for j in range(8):
      for a in range(6):
        for b in range(8):
          full[i, j] += h[a, b] * x[(i - a) % 6, (j - b) % 8]
  np.testing.assert_allclose(op.forward(jnp.asarray(x, jnp.float32), {}),
                             full.reshape(-1)[keep], atol=1e-5)


def test_shared_section_defaults_agree():
  """cs_conv reads operator.cs (made from cs.gaussian): same defaults."""
  g, c = configurable.defaults(cs.gaussian), configurable.defaults(cs.conv)
  assert c.items() <= g.items()


def test_ratio_below_one():
  with pytest.raises(UserError, match='operator.cs.ratio'):
    cs.conv((4, 4, 1), ratio=0.5)
