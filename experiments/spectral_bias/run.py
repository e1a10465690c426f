"""Spectral bias: per frequency band, when each model fits the image and how
much of the noise it fits (deep decoder 1x1 vs 3x3 vs DIP).

  python -m experiments.spectral_bias.run \
    --config=experiments/spectral_bias/config.py:cpu \
    --workdir=runs/spectral_bias_cpu

Each model of `config.fit_models` is one `engine.fit_images` call on the
same noisy image, with a probe (`loop.fit`'s per-log-step hook) that returns
per band, for the current output G: the energy of G, of its error G - x to
the clean x, <G - x, y - x> (the noise it holds) and <G, x>. Writes
summary.csv/.md (PSNR per model), steps90.csv/.md (per band, the first step
the output holds 90% of the clean energy), noise_fitted.csv/.md (per band,
the share of the noise fitted at the end and at the best step), curves.csv
(every log step, every band), psnr.png, spectra.png, bands.png,
noise_vs_step.png and results.json (everything measured; `report` redraws
the tables and figures from it).
"""

import os
import time

from absl import logging
import jax.numpy as jnp
import ml_collections
import numpy as np

from dd_jax import experiment as ex
from dd_jax import models
from dd_jax.errors import UserError
from dd_jax.evaluation import spectra
from dd_jax.fitting import engine
from dd_jax.io import inputs
from dd_jax.io import progress
from dd_jax.io import tables
from dd_jax.io import writers
from experiments.spectral_bias.config import LABELS

SHORT = {'dd': 'DD 1x1', 'dd3x3': 'DD 3x3', 'dip': 'DIP'}
# The probe's rows, per band: energy of G, of G - x; <G - x, y - x>; <G, x>.
OUT, ERR, NOISE, SIGNAL = range(4)


def fit_names(config) -> list[str]:
  names = [n.strip() for n in config.fit_models.split(',') if n.strip()]
  unknown = [n for n in names if n not in config.models]
  if not names or unknown:
    raise UserError(f'fit_models: unknown model(s) {unknown}; choose from '
                    f'{sorted(config.models)} (comma-separated).')
  return list(dict.fromkeys(names))


def run_config(config, name: str) -> ml_collections.ConfigDict:
  """The run config of one model: the shared data, operator, seed and mesh
  with the model's own model / optim / fit sections."""
  c = ml_collections.ConfigDict()
  c.seed = config.seed
  for key in ('data', 'operator', 'mesh', 'output'):
    c[key] = ml_collections.ConfigDict(config[key].to_dict())
  for key in ('model', 'optim', 'fit'):
    c[key] = ml_collections.ConfigDict(config.models[name][key].to_dict())
  return c


def make_bands(config, shape):
  """(edges, band map, counts) of the radial bands for images `shape`."""
  s = config.spectrum
  try:
    edges = spectra.band_edges(int(s.bands), shape, str(s.spacing),
                               lowest=float(s.lowest), separate_dc=True)
  except ValueError as e:
    raise UserError(f'spectrum: {e}') from None
  bands = spectra.band_index(shape, edges)
  counts = spectra.band_counts(bands, len(edges) - 1)
  if counts.min() == 0:
    raise UserError(f'spectrum: band(s) {list(np.flatnonzero(counts == 0))} '
                    f'hold no frequency at {shape[0]}x{shape[1]}; use fewer '
                    'spectrum.bands or a larger spectrum.lowest.')
  return edges, bands, counts


def make_probe(bands, n: int):
  """The fit's probe for ONE image: [4, n] (OUT, ERR, NOISE, SIGNAL rows)."""
  def probe(image, y, clean):
    err = image - clean
    return jnp.stack([spectra.band_energy(image, bands, n),
                      spectra.band_energy(err, bands, n),
                      spectra.band_cross(err, y - clean, bands, n),
                      spectra.band_cross(image, clean, bands, n)])
  return probe


def first_step(steps, values, level: float):
  """The first logged step with values >= level (None: never)."""
  hit = np.flatnonzero(np.asarray(values) >= level)
  return int(steps[hit[0]]) if hit.size else None


def settled_step(steps, values, level: float):
  """The first logged step from which on every value is >= level (None:
  the last one is below)."""
  below = np.flatnonzero(np.asarray(values) < level)
  if not below.size:
    return int(steps[0])
  return None if below[-1] == len(steps) - 1 else int(steps[below[-1] + 1])


def run(config, workdir):
  t0 = time.time()
  names = fit_names(config)
  cfgs = {n: run_config(config, n) for n in names}
  mult = int(np.lcm.reduce([models.size_multiple(c.model)
                            for c in cfgs.values()]))
  image_names, clean = inputs.load_images(config.data, mult)
  if len(clean) != 1:
    raise UserError(f'data.images must name one image; got {len(clean)} '
                    f'({", ".join(image_names)}).')
  x = np.asarray(clean[0], np.float32)
  edges, bands, counts = make_bands(config, x.shape[:2])
  ex.prepare(workdir, config, runs=list(cfgs.values()))  # All checked first.
  nb = len(counts)
  probe = make_probe(bands, nb)
  bar = progress.Progress(sum(int(c.fit.steps) for c in cfgs.values()),
                          'spectral_bias')
  fits = {}
  for name, cfg in cfgs.items():
    logging.info('[spectral_bias] %s: %d steps', LABELS.get(name, name),
                 int(cfg.fit.steps))
    # The same seed, image index and operator: every model fits the same y.
    res = engine.fit_images(cfg, clean=[x], names=image_names, probe=probe,
                            progress=bar, verbose=False)
    rec, y = res[0], res[0]['y']
    steps, _, psnr = rec['history']  # PSNR of the current output
    fits[name] = dict(steps=np.asarray(steps), psnr=np.asarray(psnr),
                      probe=np.asarray(rec['history_probe'], np.float64),
                      params=res.groups[0]['num_params'],
                      seconds=res.seconds)
    logging.info('  %s parameters; PSNR %.2f dB at the end, best %.2f dB at '
                 'step %d (%.0f s)', f'{fits[name]["params"]:,}', psnr[-1],
                 max(psnr), steps[int(np.argmax(psnr))], res.seconds)
  bar.close()
  results = dict(
      image=image_names[0], shape=list(x.shape), edges=edges.tolist(),
      counts=counts.tolist(), psnr_noisy=engine.psnr(y, x),
      reference={k: v.tolist() for k, v in reference(x, y, bands,
                                                      nb).items()},
      fits={n: dict(label=LABELS.get(n, n), params=f['params'],
                    seconds=f['seconds'], steps=f['steps'].tolist(),
                    psnr=f['psnr'].tolist(), probe=f['probe'].tolist())
            for n, f in fits.items()})
  report(results, config.spectrum, workdir)
  results['seconds'] = time.time() - t0
  writers.write_json(os.path.join(workdir, 'results.json'), results)
  logging.info('[spectral_bias] wrote %s in %.0f s', workdir,
               results['seconds'])
  return results


def report(results: dict, spectrum, workdir: str) -> None:
  """The tables and figures of `results` (the content of results.json):
  summary, steps90, noise_fitted (.csv/.md), curves.csv and the figures."""
  edges, counts = np.asarray(results['edges']), np.asarray(results['counts'])
  ref = {k: np.asarray(v) for k, v in results['reference'].items()}
  fits = {}
  for n, f in results['fits'].items():
    fits[n] = dict(f, steps=np.asarray(f['steps']), psnr=np.asarray(
        f['psnr']), probe=np.asarray(f['probe'], np.float64))
    fits[n].update(derived(fits[n]['probe'], ref))
  frac, psnr_noisy = float(spectrum.fraction), results['psnr_noisy']
  write_tables(fits, ref, edges, counts, frac, float(spectrum.noise_fraction),
               psnr_noisy, workdir, results['shape'])
  write_curves(fits, len(counts), os.path.join(workdir, 'curves.csv'))
  plot_psnr(fits, psnr_noisy, os.path.join(workdir, 'psnr.png'))
  plot_spectra(fits, ref, edges, counts, tuple(spectrum.plot_steps),
               os.path.join(workdir, 'spectra.png'))
  plot_bands(fits, edges, frac, os.path.join(workdir, 'bands.png'))
  plot_noise(fits, ref, edges, os.path.join(workdir, 'noise_vs_step.png'))


def reference(x, y, bands, nb) -> dict:
  """Per band energies of the clean image, the noisy one and the noise."""
  e = lambda a: np.asarray(spectra.band_energy(a, bands, nb), np.float64)
  return dict(clean=e(x), noisy=e(y), noise=e(y - x))


def derived(probe, ref) -> dict:
  """[log steps, bands] ratios from the probe's rows (README.md):
  energy = E(G) / E(x); signal = <G, x> / E(x); error = E(G - x) / E(noise);
  noise = <G - x, y - x> / E(noise)."""
  return dict(energy=probe[:, OUT] / ref['clean'],
              signal=probe[:, SIGNAL] / ref['clean'],
              error=probe[:, ERR] / ref['noise'],
              noise=probe[:, NOISE] / ref['noise'],
              noise_total=probe[:, NOISE].sum(1) / ref['noise'].sum())


def band_label(edges, b: int) -> str:
  return 'mean' if b == 0 else f'{edges[b]:.3f}-{edges[b + 1]:.3f}'


def write_tables(fits, ref, edges, counts, frac, noise_frac, psnr_noisy,
                 workdir, shape):
  names = list(fits)
  pct, npct = f'{100 * frac:.0f}%', f'{100 * noise_frac:.0f}%'
  rows = []
  for n, f in fits.items():
    best = int(np.argmax(f['psnr']))
    rows.append({'model': LABELS.get(n, n), 'parameters': f['params'],
                 'steps': int(f['steps'][-1]),
                 'best PSNR (dB)': float(f['psnr'][best]),
                 'best step': int(f['steps'][best]),
                 'final PSNR (dB)': float(f['psnr'][-1]),
                 'drop from best (dB)': float(f['psnr'][best]
                                              - f['psnr'][-1]),
                 'noise fitted at best': float(f['noise_total'][best]),
                 'noise fitted at end': float(f['noise_total'][-1]),
                 'wall s': float(f['seconds'])})
  tables.write_table(
      rows, workdir, 'summary',
      title=f'PSNR of the current output, {shape[0]}x{shape[1]}, noisy '
      f'{psnr_noisy:.2f} dB', notes='noise fitted: <G - x, y - x> / '
      '||y - x||^2 over all frequencies (1: the output holds all the noise, '
      '0: none of it). wall s: the fit_images call, compiling included.')
  share = ref['clean'] / ref['clean'].sum()
  band_rows, noise_rows = [], []
  for b in range(len(counts)):
    r = {'band': b, 'cycles/pixel': band_label(edges, b),
         'frequencies': int(counts[b]),
         'clean energy %': float(100 * share[b]),
         'noise / clean': float(ref['noise'][b] / ref['clean'][b])}
    q = {k: r[k] for k in ('band', 'cycles/pixel', 'noise / clean')}
    for n in names:
      f = fits[n]
      r[f'{pct} energy, {SHORT.get(n, n)}'] = first_step(
          f['steps'], f['energy'][:, b], frac)
    for n in names:
      f = fits[n]
      r[f'{pct} signal, {SHORT.get(n, n)}'] = first_step(
          f['steps'], f['signal'][:, b], frac)
      q[f'at end, {SHORT.get(n, n)}'] = float(f['noise'][-1, b])
    for n in names:
      best = int(np.argmax(fits[n]['psnr']))
      q[f'at best step, {SHORT.get(n, n)}'] = float(fits[n]['noise'][best, b])
    for n in names:
      q[f'>= {npct} from step, {SHORT.get(n, n)}'] = settled_step(
          fits[n]['steps'], fits[n]['noise'][:, b], noise_frac)
    band_rows.append(r)
    noise_rows.append(q)
  tables.write_table(
      band_rows, workdir, 'steps90',
      title=f'First logged step at which the output holds {pct} of the clean '
      "image's energy, per band",
      notes=f'energy: E_b(G) >= {frac} E_b(x), E_b the energy in band b '
      '(sum of |DFT|^2 / (H W) over the band and the channels), G the '
      f'output, x the clean image. signal: <G, x>_b >= {frac} E_b(x) (the '
      'output\'s projection on the clean image, blind to noise). Empty: not '
      'reached. noise / clean: E_b(y - x) / E_b(x), y the noisy image.')
  tables.write_table(
      noise_rows, workdir, 'noise_fitted',
      title='Share of the noise fitted per band: at the last step, at the '
      f'best-PSNR step, and the step from which on it stays >= {npct}',
      notes='noise fitted: <G - x, y - x>_b / E_b(y - x), the share of the '
      'noise in band b the output holds (1: all of it, 0: none; the '
      'projection of the error on the noise). Where the error is much larger '
      'than the noise (low bands early in a fit) it is dominated by the '
      'error\'s chance overlap with the noise; curves.csv also has error_b = '
      'E_b(G - x) / E_b(y - x). Empty: not reached.')


def write_curves(fits, nb, path):
  keys = ('energy', 'signal', 'error', 'noise')
  lines = ['model,step,psnr,' + ','.join(f'{k}_{b}' for k in keys
                                         for b in range(nb))]
  for n, f in fits.items():
    for i, s in enumerate(f['steps']):
      vals = [f[k][i, b] for k in keys for b in range(nb)]
      lines.append(f'{n},{s},{f["psnr"][i]:.4f},' + ','.join(
          f'{v:.6g}' for v in vals))
  writers.write_text(path, '\n'.join(lines) + '\n')


def centers(edges):
  """Band centres (geometric means of the edges; band 0, the mean, at its
  upper edge)."""
  c = np.sqrt(edges[:-1] * edges[1:])
  c[0] = edges[1] / 2
  return c


def plot_psnr(fits, psnr_noisy, path):
  plt = ex.pyplot()
  fig, ax = plt.subplots(figsize=(6, 4), dpi=110)
  for n, f in fits.items():
    line, = ax.plot(f['steps'], f['psnr'], label=LABELS.get(n, n))
    best = int(np.argmax(f['psnr']))
    ax.plot(f['steps'][best], f['psnr'][best], 'o', color=line.get_color())
  ax.axhline(psnr_noisy, color='gray', ls=':', label='noisy image')
  ax.set_xlabel('optimizer step')
  ax.set_ylabel('PSNR of the output (dB)')
  ax.set_title('Fitting a noisy image (dot: best step)')
  ax.grid(alpha=0.3)
  ax.legend(fontsize=8)
  ex.save_figure(fig, path)


def pick_steps(steps, wanted, count: int = 5):
  """Indices of the logged steps closest to `wanted` (default: `count`
  log-spaced ones from the first to the last log step)."""
  steps = np.asarray(steps)
  if not wanted:
    wanted = np.geomspace(steps[0], steps[-1], count)
  return sorted({int(np.argmin(np.abs(steps - w))) for w in wanted})


def plot_spectra(fits, ref, edges, counts, plot_steps, path):
  plt = ex.pyplot()
  fig, axes = plt.subplots(1, len(fits), figsize=(4.2 * len(fits), 3.8),
                           dpi=110, squeeze=False)
  c = centers(edges)[1:]
  per = lambda e: (e / counts)[1:]  # Radially averaged power, mean left out.
  for ax, (n, f) in zip(axes[0], fits.items()):
    idx = pick_steps(f['steps'], plot_steps)
    colors = plt.cm.viridis(np.linspace(0, 0.9, len(idx)))
    for color, i in zip(colors, idx):
      ax.loglog(c, per(f['probe'][i, OUT]), color=color,
                label=f'output, step {f["steps"][i]}')
    ax.loglog(c, per(ref['clean']), 'k', lw=2, label='clean')
    ax.loglog(c, per(ref['noisy']), color='gray', ls='--', label='noisy')
    ax.loglog(c, per(ref['noise']), color='gray', ls=':', label='noise')
    ax.set_title(LABELS.get(n, n), fontsize=10)
    ax.set_xlabel('radial frequency (cycles/pixel)')
    _plain_log_ticks(ax)
    ax.legend(fontsize=6)
  axes[0][0].set_ylabel('radially averaged power')
  ex.save_figure(fig, path)


def plot_bands(fits, edges, frac, path):
  plt = ex.pyplot()
  fig, (a, b) = plt.subplots(1, 2, figsize=(11, 4), dpi=110)
  c = centers(edges)
  for n, f in fits.items():
    for key, ls in (('energy', '-'), ('signal', '--')):
      s = [first_step(f['steps'], f[key][:, i], frac) for i in range(len(c))]
      s = np.array([np.nan if v is None else v for v in s], float)
      a.semilogx(c, s, ls, marker='o', ms=3,
                 label=f'{LABELS.get(n, n)}, {key}',
                 color=_color(list(fits).index(n)))
    best = int(np.argmax(f['psnr']))
    color = _color(list(fits).index(n))
    b.semilogx(c, f['noise'][-1], '-o', ms=3, color=color,
               label=f'{LABELS.get(n, n)}, step {f["steps"][-1]} (end)')
    b.semilogx(c, f['noise'][best], ':', color=color,
               label=f'{LABELS.get(n, n)}, step {f["steps"][best]} (best)')
  a.set_yscale('log')
  a.set_xlabel('band centre (cycles/pixel; leftmost: the mean)')
  a.set_ylabel('first step')
  a.set_title(f'Step the output first holds {100 * frac:.0f}% of the clean '
              'energy\n(--: of its projection on the clean image)',
              fontsize=9)
  b.set_xlabel('band centre (cycles/pixel)')
  b.set_ylabel('<G - x, noise>_b / ||noise||_b^2')
  b.set_title('Share of the noise fitted, per band', fontsize=9)
  for ax in (a, b):
    _plain_log_ticks(ax)
    ax.legend(fontsize=6)
  ex.save_figure(fig, path)


def plot_noise(fits, ref, edges, path, min_noise: float = 0.05):
  """Per model, the share of the noise fitted vs step in each band whose
  noise is at least `min_noise` of its clean energy (where it matters)."""
  plt = ex.pyplot()
  show = np.flatnonzero(ref['noise'] >= min_noise * ref['clean'])
  fig, axes = plt.subplots(1, len(fits), figsize=(4.2 * len(fits), 3.6),
                           dpi=110, squeeze=False, sharey=True)
  colors = plt.cm.plasma(np.linspace(0, 0.85, max(len(show), 1)))
  for ax, (n, f) in zip(axes[0], fits.items()):
    for color, b in zip(colors, show):
      ax.plot(f['steps'], f['noise'][:, b], color=color,
              label=f'{edges[b]:.2f}-{edges[b + 1]:.2f} c/px')
    ax.set_title(LABELS.get(n, n), fontsize=10)
    ax.set_xlabel('optimizer step')
    ax.grid(alpha=0.3)
    ax.legend(fontsize=6, title='band', title_fontsize=6)
  axes[0][0].set_ylabel('share of the band\'s noise fitted')
  fig.suptitle(f'Noise fitted per band (bands whose noise is >= '
               f'{100 * min_noise:.0f}% of the clean energy)', fontsize=9)
  ex.save_figure(fig, path)


def _color(i):
  return f'C{i}'


def _plain_log_ticks(ax):
  """Decade labels only on the log frequency axis; a light grid."""
  from matplotlib import ticker
  ax.xaxis.set_minor_formatter(ticker.NullFormatter())
  ax.grid(alpha=0.3, which='both')


if __name__ == '__main__':
  ex.launch(run, os.path.join(os.path.dirname(__file__), 'config.py') + ':cpu',
            'runs/spectral_bias')
