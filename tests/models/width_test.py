"""models/width.py: the automatic-width rule and where model.k = 0 applies."""

import ml_collections
import pytest

from dd_jax import models
from dd_jax.errors import UserError
from dd_jax.models import width


def _cfg(**kw):
  base = dict(name='deep_decoder', k=0, depth=5, channels=(), init_from='')
  return ml_collections.ConfigDict(dict(base, **kw))


def test_rule_matches_its_formula_rounded_and_clipped():
  for s, hw in ((25, (256, 256)), (10, (128, 128)), (60, (512, 256))):
    exact = (width.K_REF * (s / width.SIGMA_REF) ** -width.SLOPE
             * (hw[0] * hw[1]) ** 0.5 / width.SIDE_REF)
    k = width.auto_k(s, hw)
    assert k % width.MULTIPLE == 0 and width.K_MIN <= k <= width.K_MAX
    assert abs(k - min(max(exact, width.K_MIN), width.K_MAX)) <= (
        width.MULTIPLE / 2)
  assert width.auto_k(0.0, (4096, 4096)) == width.K_MAX  # noise-free
  assert width.auto_k(1e4, (32, 32)) == width.K_MIN


def test_weaker_noise_and_larger_images_get_wider_nets():
  ks = [width.auto_k(s, (256, 256)) for s in (5, 15, 25, 50, 100)]
  assert ks == sorted(ks, reverse=True) and ks[0] > ks[-1]
  assert width.auto_k(25, (512, 512)) >= width.auto_k(25, (256, 256))


def test_is_auto_and_checks():
  assert width.is_auto(_cfg())
  assert not width.is_auto(_cfg(channels=(8, 8)))
  assert not width.is_auto(ml_collections.ConfigDict(dict(name='dip', k=0)))
  with pytest.raises(UserError, match='saved init fixes the width'):
    width.check(_cfg(init_from='/some/init'))
  bad = _cfg()
  bad.k = -4
  with pytest.raises(UserError, match='model.k must be >= 0'):
    width.check(bad)
  assert width.with_k(_cfg(), 24).k == 24


def test_make_model_needs_a_resolved_width():
  with pytest.raises(UserError, match='automatic width'):
    models.make_model(_cfg(), (32, 32, 3))
  m = models.make_model(width.with_k(_cfg(), 16), (32, 32, 3))
  assert m.channels == (16,) * 6
