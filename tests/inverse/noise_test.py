"""Noise models: statistics, clipping and reproducibility from the key."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from dd_jax.errors import UserError
from dd_jax.inverse import noise


def test_gaussian_noise_statistics_and_clip():
  x = jnp.full((128, 128, 3), 0.5)
  y = noise.add_noise(jax.random.key(0), x, sigma=0.1)
  assert abs(float(jnp.std(y - x)) - 0.1) < 0.003
  y = noise.add_noise(jax.random.key(0), x, sigma=2.0)
  assert float(y.min()) >= 0.0 and float(y.max()) <= 1.0
  same = noise.add_noise(jax.random.key(0), x, sigma=2.0)
  np.testing.assert_array_equal(y, same)


def test_noise_models_statistics_and_seed():
  y = jnp.full((200, 200, 1), 0.4)
  key = jax.random.key(5)
  g = noise.add_noise(key, y, name='gaussian', sigma=0.05, clip=False)
  assert abs(float(jnp.std(g)) - 0.05) < 0.002
  p = noise.add_noise(key, y, name='poisson', peak=20.0, clip=False)
  assert abs(float(jnp.mean(p)) - 0.4) < 0.01
  assert abs(float(jnp.var(p)) - 0.4 / 20) < 0.002  # var = x / peak
  np.testing.assert_allclose(np.asarray(p) * 20, np.round(np.asarray(p) * 20),
                             atol=1e-4)  # counts
  s = noise.add_noise(key, y, name='salt_pepper', amount=0.2)
  hit = np.asarray(s != 0.4)
  assert abs(hit.mean() - 0.2) < 0.01
  assert abs(float(jnp.mean(s[hit])) - 0.5) < 0.02
  assert np.array_equal(noise.add_noise(key, y, name='none'), y)
  for kind in ('gaussian', 'poisson', 'salt_pepper'):
    a = noise.add_noise(jax.random.key(1), y, name=kind, sigma=0.1)
    assert np.array_equal(a, noise.add_noise(jax.random.key(1), y, name=kind,
                                             sigma=0.1))
    assert not np.array_equal(a, noise.add_noise(jax.random.key(2), y,
                                                 name=kind, sigma=0.1))


def test_unknown_and_bad_values():
  with pytest.raises(UserError, match='poisson'):
    noise.add_noise(jax.random.key(0), jnp.zeros(3), name='nope')
  with pytest.raises(UserError, match='operator.noise.peak'):
    noise.add_noise(jax.random.key(0), jnp.zeros(3), name='poisson', peak=0.0)
  with pytest.raises(UserError, match='operator.noise.amount'):
    noise.add_noise(jax.random.key(0), jnp.zeros(3), name='salt_pepper',
                    amount=2.0)
