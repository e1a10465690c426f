"""Radial power spectra against numpy float64 references."""

from absl.testing import absltest
from absl.testing import parameterized
import jax
import numpy as np

from dd_jax.evaluation import spectra


def _bands_ref(shape, edges):
  """Band of each fft2 frequency by an explicit loop over the grid."""
  h, w = shape
  out = np.zeros((h, w), np.int64)
  for i in range(h):
    for j in range(w):
      fy = (i if i < (h + 1) // 2 else i - h) / h  # np.fft.fftfreq
      fx = (j if j < (w + 1) // 2 else j - w) / w
      r = np.hypot(fy, fx)
      b = 0
      while b + 1 < len(edges) - 1 and r >= edges[b + 1]:
        b += 1
      out[i, j] = b
  return out


def _energy_ref(x, bands, n):
  """Per-band energy in float64: sum |fft2|^2 / (H W) over channels."""
  x = np.asarray(x, np.float64)
  power = np.abs(np.fft.fft2(x, axes=(0, 1))) ** 2 / (x.shape[0] * x.shape[1])
  return np.array([power[bands == b].sum() for b in range(n)])


class SpectraTest(parameterized.TestCase):

  @parameterized.parameters(((32, 32), 12, 'log'), ((24, 40), 8, 'linear'),
                            ((33, 17), 5, 'log'))
  def test_band_index_matches_a_loop_and_edges_span_the_grid(self, shape, n,
                                                             spacing):
    edges = spectra.band_edges(n, shape, spacing)
    self.assertLen(edges, n + 1)
    self.assertEqual(edges[0], 0.0)
    self.assertAlmostEqual(edges[-1], np.sqrt(0.5))
    self.assertTrue(np.all(np.diff(edges) > 0))
    bands = spectra.band_index(shape, edges)
    np.testing.assert_array_equal(bands, _bands_ref(shape, edges))
    counts = spectra.band_counts(bands, n)
    self.assertEqual(counts.sum(), shape[0] * shape[1])
    self.assertEqual(bands[0, 0], 0)  # The mean is in band 0.

  def test_log_bands_are_equal_in_log_frequency(self):
    edges = spectra.band_edges(12, (128, 128), 'log')
    self.assertAlmostEqual(edges[1], 2.5 / 128)
    ratios = edges[2:] / edges[1:-1]
    np.testing.assert_allclose(ratios, ratios[0], rtol=1e-12)
    for n in (32, 64, 128, 256, 512):  # The default fills every band.
      bands = spectra.band_index((n, n), spectra.band_edges(12, (n, n)))
      self.assertGreater(spectra.band_counts(bands, 12).min(), 0, n)
    with self.assertRaises(ValueError):
      spectra.band_edges(0, (8, 8))
    with self.assertRaises(ValueError):
      spectra.band_edges(4, (8, 8), 'cubic')

  @parameterized.parameters(((32, 32),), ((24, 40),))
  def test_separate_dc_gives_the_mean_its_own_band(self, shape):
    edges = spectra.band_edges(12, shape, separate_dc=True)
    self.assertLen(edges, 13)
    bands = spectra.band_index(shape, edges)
    self.assertEqual(spectra.band_counts(bands, 12)[0], 1)
    self.assertEqual(bands[0, 0], 0)
    np.testing.assert_allclose(edges[2:], spectra.band_edges(11, shape)[1:])
    x = np.random.default_rng(3).random((*shape, 2)).astype(np.float32)
    e = np.asarray(spectra.band_energy(x, bands, 12))
    self.assertAlmostEqual(e[0] / (x.mean(axis=(0, 1)) ** 2).sum()
                           / (shape[0] * shape[1]), 1.0, places=5)

  @parameterized.parameters((32, 32, 12, 'log'), (24, 40, 8, 'linear'))
  def test_band_energy_is_the_numpy_reference_and_sums_to_the_energy(
      self, h, w, n, spacing):
    x = np.random.default_rng(0).random((h, w, 3)).astype(np.float32)
    bands = spectra.band_index((h, w), spectra.band_edges(n, (h, w), spacing))
    got = np.asarray(spectra.band_energy(x, bands, n))
    np.testing.assert_allclose(got, _energy_ref(x, bands, n), rtol=1e-4)
    # Parseval: the bands sum to sum(x^2) over pixels and channels.
    self.assertAlmostEqual(got.sum() / np.sum(x.astype(np.float64) ** 2), 1.0,
                           places=5)
    power = np.asarray(spectra.radial_power(x, bands, n))
    np.testing.assert_allclose(power, got / spectra.band_counts(bands, n),
                               rtol=1e-6)

  @parameterized.parameters(((64, 64), (5, 3)), ((48, 64), (0, 20)),
                            ((64, 64), (21, 19)))
  def test_a_pure_sinusoid_lands_in_its_band(self, shape, k):
    h, w = shape
    yy, xx = np.meshgrid(np.arange(h), np.arange(w), indexing='ij')
    wave = np.cos(2 * np.pi * (k[0] * yy / h + k[1] * xx / w))[..., None]
    edges = spectra.band_edges(12, shape)
    bands = spectra.band_index(shape, edges)
    got = np.asarray(spectra.band_energy(wave.astype(np.float32), bands, 12))
    r = np.hypot(k[0] / h, k[1] / w)
    want = int(np.searchsorted(edges, r, side='right') - 1)
    self.assertAlmostEqual(got[want] / (h * w / 2), 1.0, places=4)
    np.testing.assert_allclose(np.delete(got, want), 0.0, atol=1e-3)

  def test_band_cross_splits_the_inner_product(self):
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(2, 32, 24, 2)).astype(np.float32)
    bands = spectra.band_index((32, 24), spectra.band_edges(8, (32, 24)))
    cross = np.asarray(spectra.band_cross(x, y, bands, 8))
    fx = np.fft.fft2(x.astype(np.float64), axes=(0, 1))
    fy = np.fft.fft2(y.astype(np.float64), axes=(0, 1))
    prod = np.real(fx * np.conj(fy)) / (32 * 24)
    np.testing.assert_allclose(
        cross, [prod[bands == b].sum() for b in range(8)], rtol=1e-4,
        atol=1e-4)
    self.assertAlmostEqual(cross.sum(), float(np.sum(x.astype(np.float64) * y)),
                           places=2)
    np.testing.assert_allclose(spectra.band_cross(x, x, bands, 8),
                               spectra.band_energy(x, bands, 8), rtol=1e-5)

  def test_jit_and_vmap_equal_a_loop(self):
    xs = np.random.default_rng(2).random((3, 16, 16, 3)).astype(np.float32)
    bands = spectra.band_index((16, 16), spectra.band_edges(6, (16, 16)))
    f = jax.jit(jax.vmap(lambda x: spectra.band_energy(x, bands, 6)))
    np.testing.assert_allclose(
        f(xs), [spectra.band_energy(x, bands, 6) for x in xs], rtol=1e-6)


if __name__ == '__main__':
  absltest.main()
