"""model.k = 0 in the engine: the width comes from the measurement's noise
level, images of one width share a call, and each fit equals the fit at
that width given explicitly."""

import numpy as np

from configs import denoise
from dd_jax import fit_images
from dd_jax.fitting import engine
from dd_jax.fitting import stopping
from dd_jax.io import images
from dd_jax.models import width


def _config():
  c = denoise.get_config('test')
  c.model.k, c.model.depth = 0, 3
  c.fit.steps, c.fit.log_every = 4, 2
  return c


def test_width_per_measurement_equals_the_explicit_fit():
  c = _config()
  c.operator.noise.name = 'none'  # the measurements below are given
  rng = np.random.default_rng(0)
  x = images.synthetic_image(0, (32, 32))
  ys = [np.clip(x + s / 255 * rng.standard_normal(x.shape), 0, 1).astype(
      np.float32) for s in (5.0, 60.0)]
  res = fit_images(c, measurements=ys, clean=[x, x], verbose=False)
  ks = [r['auto_k'] for r in res]
  for r, y in zip(res, ys):
    assert r['sigma_est'] == 255 * stopping.estimate_sigma(y)
    assert r['auto_k'] == width.auto_k(r['sigma_est'], (32, 32))
  assert ks[0] > ks[1]  # weaker noise, wider net
  assert len(res.groups) == 2 and [g['k'] for g in res.groups] == ks
  for j, r in enumerate(res):
    alone = width.with_k(c.model, ks[j])
    cj = c.copy_and_resolve_references()
    cj.model = alone
    ref = fit_images(cj, measurements=[ys[j]], clean=[x], indices=[j],
                     verbose=False)[0]
    np.testing.assert_array_equal(r['restored'], ref['restored'])
    assert 'auto_k' not in ref


def test_simulated_measurement_and_variant_groups():
  c = _config()
  x = images.synthetic_image(1, (32, 32))
  rec = fit_images(c, clean=[x], verbose=False)[0]
  assert rec['sigma_est'] == 255 * stopping.estimate_sigma(rec['y'])
  other = c.copy_and_resolve_references()
  other.operator.noise.sigma = 50 / 255
  seed = c.copy_and_resolve_references()
  seed.seed = 3
  # Another sigma is another width: its own call; another seed shares it.
  assert engine.variant_groups([c, other, seed]) == [[0, 2], [1]]
  c.model.k = other.model.k = 16
  assert engine.variant_groups([c, other]) == [[0, 1]]
