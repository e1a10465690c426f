"""The 'verified' best iterate on a diverging fit: it keeps the last weights
whose own loss was finite and lowest (the rule itself is replayed in
fit_test.test_best_iterate_matches_python_reference)."""

from absl.testing import absltest
import jax
import jax.numpy as jnp
import numpy as np

from dd_jax.fitting import keys as keys_lib
from tests.fitting.fit_test import noisy_batch, run_fit, small_config, spec_for


class VerifiedBestIterateTest(absltest.TestCase):

  def test_diverged_fit_keeps_weights_with_finite_loss(self):
    """lr = 1e9: step 0's update blows the weights up (loss 0.05 -> 0.3, then
    NaN). The reference rule keeps that update (a saturated, black image);
    the verified one the initial weights, whose own loss was the lowest."""
    _, ys = noisy_batch(1)
    keys = jax.random.split(jax.random.key(0), 1)
    c = small_config(steps=20, log_every=10)
    c.optim.lr = 1e9
    result = run_fit(c, keys, ys)
    self.assertFalse(result.alive[0])
    self.assertEqual(result.diverged_steps[0], 2)  # 0.05, 0.3, then NaN
    spec = spec_for(c, ys.shape[1:])
    k_params, k_input, _ = keys_lib.split_fit_key(keys[0])
    z = spec.init_input(k_input, jnp.asarray(ys[0]))
    out0 = spec.apply(spec.init(k_params, z), z)
    # The initial weights' output (the saturated alternative is O(1) away);
    # the fit's compiled program and this eager apply round apart by ~3e-6.
    np.testing.assert_allclose(result.restored[0], out0, atol=1e-5)

  def test_unknown_rule_is_a_user_error(self):
    _, ys = noisy_batch(1)
    with self.assertRaisesRegex(ValueError, 'best_rule'):
      run_fit(small_config(steps=2, best_rule='newest'),
              jax.random.split(jax.random.key(0), 1), ys)


if __name__ == '__main__':
  absltest.main()
