"""fit.ensemble: K fits per image as entries of one batched call; each member
equals a separate fit with its key; mean/median, std and calibration."""

import json
import os
import tempfile

from absl.testing import absltest
import jax
import numpy as np

from configs import denoise
from dd_jax import fit_images
from dd_jax.fitting import keys as keys_lib
from dd_jax.fitting import loop
from dd_jax.io import images
from dd_jax.io import writers
from dd_jax import models


class EnsembleTest(absltest.TestCase):

  def test_members_are_separate_fits_and_outputs_are_written(self):
    c = denoise.get_config('test')
    c.fit.steps, c.fit.log_every, c.fit.ensemble = 6, 3, 3
    x = images.synthetic_image(0, (32, 32))
    bar = _Bar()
    rec = fit_images(c, clean=[x], verbose=False, progress=bar)[0]
    self.assertEqual(bar.done, 3 * 6)  # every member's steps count
    self.assertIn('x 3 members', bar.what)
    self.assertEqual(rec['members'].shape, (3, 32, 32, 3))
    np.testing.assert_allclose(rec['restored'], rec['members'].mean(0),
                               atol=1e-6)
    np.testing.assert_allclose(rec['std'], rec['members'].std(0), atol=1e-6)
    self.assertLen(rec['member_psnr'], 3)
    self.assertGreater(rec['std'].mean(), 0)  # members differ
    # Member m is the fit with key member_key(fit_key(image_key(root, 0)), m).
    spec = models.make_model(c.model, x.shape)
    k_fit = keys_lib.fit_key(keys_lib.image_key(keys_lib.root_key(c.seed), 0))
    keys = jax.numpy.stack([keys_lib.member_key(k_fit, m) for m in range(3)])
    alone = loop.fit(keys, spec, lambda v, a: v, np.repeat(rec['y'][None], 3, 0),
                     {}, optim_cfg=c.optim, fit_cfg=c.fit, verbose=False)
    np.testing.assert_allclose(rec['members'], alone.restored, atol=1e-5)
    single = fit_images(_with(c, ensemble=1), clean=[x], verbose=False)[0]
    np.testing.assert_allclose(single['restored'], rec['members'][0],
                               atol=1e-5)

    folder = tempfile.mkdtemp()
    out = writers.write_image_outputs(folder, rec)
    ens = out['ensemble']
    self.assertEqual(ens['members'], 3)
    self.assertBetween(ens['calibration']['spearman'], -1, 1)
    for f in ('image0_std.npy', 'image0_std.png', 'image0_calibration.png'):
      self.assertTrue(os.path.isfile(os.path.join(folder, f)), f)
    json.dumps(writers.strict(out), allow_nan=False)
    self.assertIn('mean of 3 members', writers.summary_text(
        {'images': {'image0': out}, 'seconds': 1.0}))

  def test_calibration_of_a_perfectly_ranked_std(self):
    std = np.linspace(0, 1, 1000)
    cal = writers.calibration(std, 2 * std)
    self.assertAlmostEqual(cal['spearman'], 1.0)
    self.assertLen(cal['bin_std'], 10)
    np.testing.assert_allclose(cal['bin_abs_error'],
                               2 * np.asarray(cal['bin_std']))


class _Bar:
  """A progress bar that records what it is told."""

  def __init__(self):
    self.done, self.what = 0, ''

  def update(self, n, what=''):
    self.done += n
    self.what = what


def _with(c, **fit):
  c = c.copy_and_resolve_references()
  c.fit.update(fit)
  return c


if __name__ == '__main__':
  absltest.main()
