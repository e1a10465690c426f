"""Beyond the paper: the paper protocol, each step towards the recipe, the
recipe (configs/denoise.py:best) and CBM3D, with wall times beside the
authors' PyTorch time measured in the same run.

  python -m experiments.beyond.run \
    --config=experiments/beyond/config.py:cpu --workdir=runs/beyond_cpu

Rows, per noise sigma (every method fits the same noisy image: the same
seed and image index give the same noise; checked):
  paper protocol     k at the default width, Adam lr 0.01, 1900 steps,
                     best iterate (the config's fit and optim sections)
  fast schedule      warm-up + cosine to lr 0.03 -> 0.0009, recipe_steps steps
  + auto width       the same at model.k=0 (models/width.py)
  + ensemble K       the mean of K such fits (fit.ensemble): the first K
                     members of the one recipe run of the largest K
  recipe             configs/denoise.py:best (recipe_members members)
  CBM3D              dd_jax.evaluation.baselines.bm3d_denoise, true sigma
Wall time per image: a call's fit seconds plus its compilation, over its
images; ensemble rows of K < the run's members are prorated (K / members:
on a CPU the members run one by one). authors' s: their step on this
machine (experiments/beyond/authors_time.py) x the paper's 1900 steps.

Writes beyond_sigma<s>.csv/.md (method x image, means over tune and test
images, s/image), ensemble_gain.png (mean PSNR vs K and vs wall time),
results.json.
"""

import importlib.util
import os
import time

from absl import logging
import ml_collections
import numpy as np

from configs import denoise
from dd_jax import experiment as ex
from dd_jax.errors import UserError
from dd_jax.evaluation import baselines
from dd_jax.fitting import engine
from dd_jax.io import inputs
from dd_jax.io import progress
from dd_jax.io import tables
from dd_jax.io import writers
from experiments.beyond import authors_time

PAPER, FAST, AUTO, RECIPE, CBM3D = ('paper protocol', 'fast schedule',
                                    '+ auto width', 'recipe (denoise:best)',
                                    'CBM3D')


def _ints(text: str, name: str) -> list[int]:
  try:
    out = sorted({int(v) for v in str(text).split(',') if v.strip()})
  except ValueError:
    raise UserError(f'{name}={text!r}: give comma-separated whole numbers.')
  if not out or out[0] <= 0:
    raise UserError(f'{name}={text!r}: give positive whole numbers.')
  return out


def run_config(config, sigma: float) -> ml_collections.ConfigDict:
  """The paper protocol's run config at noise `sigma` (1/255)."""
  c = ml_collections.ConfigDict()
  c.seed = config.seed
  for key in ex.RUN_SECTIONS + ('mesh', 'output'):
    c[key] = ml_collections.ConfigDict(config[key].to_dict())
  c.data.images = f'{config.tune_images},{config.test_images}'
  c.operator.noise.sigma = float(sigma) / 255
  return c


def recipe_config(config, sigma: float, members: int, k: int = 0):
  """configs/denoise.py:best on the same images: `members` members at
  width k (0: automatic)."""
  c = run_config(config, sigma)
  denoise.best_recipe(c, members, int(config.recipe_steps), k=k)
  if float(config.get('recipe_lr', 0.0)) > 0:
    c.optim.lr = float(config.recipe_lr)
  c.fit.blend = float(config.get('recipe_blend', 0.0))
  c.fit.blend_ref_sigma = float(config.get('recipe_blend_ref_sigma', 0.0))
  return c


def _per_image_seconds(res) -> dict[str, float]:
  """{image name: (fit + compile seconds of its call) / its images}."""
  out = {}
  for g in res.groups:
    s = (float(g['seconds']) + float(g.get('compile_s', 0.0))) / (
        len(g['images']) * int(g.get('variants', 1)))
    for i in g['images']:
      out[res[i]['name']] = s
  return out


def _psnr_ssim(out, ref):
  return engine.psnr(out, ref), engine.ssim(out, ref)


def run(config, workdir):
  t0 = time.time()
  sigmas = _ints(config.sigmas, 'sigmas')
  ensembles = _ints(config.ensembles, 'ensembles')
  members = max(ensembles + [int(config.recipe_members)])
  if int(config.recipe_members) < 1:
    raise UserError('recipe_members must be >= 1.')
  checks = [run_config(config, sigmas[0]),
            recipe_config(config, sigmas[0], members)]
  ex.prepare(workdir, config, runs=checks)
  names, clean = inputs.load_images(checks[0].data,
                                    inputs.size_multiple(checks[0]))
  n_tune = len(inputs.load_images(ml_collections.ConfigDict(dict(
      checks[0].data.to_dict(), images=config.tune_images)))[0])
  parts = {n: 'tune' if i < n_tune else 'test' for i, n in enumerate(names)}
  use_cbm3d = bool(config.cbm3d) and importlib.util.find_spec('bm3d')
  bar = progress.Progress(len(names) * len(sigmas) * (
      int(config.fit.steps) + (members + 1) * int(config.recipe_steps)),
      'beyond')

  # The paper protocol: all sigmas in one call (a per-entry setting).
  paper = engine.fit_variants([run_config(config, s) for s in sigmas],
                              clean=clean, names=names, progress=bar,
                              verbose=False)
  results = dict(preset=config.get('preset', ''), sigmas=sigmas,
                 ensembles=ensembles, members=members,
                 recipe_members=int(config.recipe_members), parts=parts,
                 cbm3d='run' if use_cbm3d else (
                     'off' if not config.cbm3d else 'not installed'),
                 per_sigma={})
  for s, res_p in zip(sigmas, paper):
    results['per_sigma'][s] = per_sigma(config, s, res_p, names, clean,
                                        members, ensembles, use_cbm3d, bar)
  bar.close()
  results['authors'] = authors(config, checks[0], clean, names)
  for s in sigmas:
    report(results, s, workdir)
  plot(os.path.join(workdir, 'ensemble_gain.png'), results)
  results['seconds'] = time.time() - t0
  writers.write_json(os.path.join(workdir, 'results.json'), results)
  logging.info('[beyond] wrote %s in %.0f s', workdir, results['seconds'])
  return results


def per_sigma(config, s, res_p, names, clean, members, ensembles, use_cbm3d,
              bar) -> dict:
  """Every method's PSNR / SSIM / seconds per image at sigma s."""
  out = {m: {} for m in (PAPER, FAST, AUTO, RECIPE)}
  secs = {m: {} for m in out}
  ens = {k: {} for k in ensembles if k > 1}
  t_p = _per_image_seconds(res_p)
  for rec in res_p:
    out[PAPER][rec['name']] = (rec['psnr'], rec['ssim'])
    secs[PAPER][rec['name']] = t_p[rec['name']]
  # The recipe run at the automatic width, `members` members.
  res_r = engine.fit_images(recipe_config(config, s, members), clean=clean,
                            names=names, progress=bar, verbose=False)
  t_r = _per_image_seconds(res_r)
  widths = {}
  for j, rec in enumerate(res_r):
    n = rec['name']
    if not np.array_equal(rec['y'], res_p[j]['y']):
      raise AssertionError(f'{n}: the recipe saw another noisy image.')
    widths[n] = dict(k=rec['auto_k'], sigma_est=rec['sigma_est'])
    outs, x = np.asarray(rec['members']), rec['clean']
    out[AUTO][n] = _psnr_ssim(outs[0], x)
    secs[AUTO][n] = t_r[n] / members
    for k in ens:
      ens[k][n] = _psnr_ssim(outs[:k].mean(0), x)
    r = int(config.recipe_members)
    out[RECIPE][n] = _psnr_ssim(engine.blended(
        outs[:r].mean(0), rec['y'], rec.get('blend', 0.0)), x)
    secs[RECIPE][n] = t_r[n] * r / members
  # The fast schedule at the default width: member 0 of the recipe run
  # where the rule picked the default width (the same fit), else a fit.
  k0 = int(config.model.k)
  refit = [j for j, n in enumerate(names) if widths[n]['k'] != k0]
  for j, n in enumerate(names):
    if j not in refit:
      out[FAST][n], secs[FAST][n] = out[AUTO][n], secs[AUTO][n]
  if refit:
    c = recipe_config(config, s, 1, k=k0)
    c.fit.blend = 0.0  # as member 0 of the recipe run: the fit's output
    res_f = engine.fit_images(c, clean=[clean[j] for j in refit],
                              names=[names[j] for j in refit],
                              indices=refit, progress=bar, verbose=False)
    t_f = _per_image_seconds(res_f)
    for j, rec in zip(refit, res_f):
      if not np.array_equal(rec['y'], res_p[j]['y']):
        raise AssertionError(f'{names[j]}: the fast fit saw another image.')
      out[FAST][rec['name']] = (rec['psnr'], rec['ssim'])
      secs[FAST][rec['name']] = t_f[rec['name']]
  cb, cb_s = {}, {}
  if use_cbm3d:
    for rec in res_p:
      t = time.time()
      d = baselines.bm3d_denoise(rec['y'], s / 255)
      cb_s[rec['name']] = time.time() - t
      cb[rec['name']] = _psnr_ssim(d, rec['clean'])
  logging.info('[beyond] sigma %d: paper %.2f, recipe %.2f dB (mean)', s,
               np.mean([v[0] for v in out[PAPER].values()]),
               np.mean([v[0] for v in out[RECIPE].values()]))
  return dict(scores=out, seconds=secs, widths=widths,
              ensemble={k: v for k, v in ens.items()},
              ensemble_seconds={k: {n: t_r[n] * k / members for n in names}
                                for k in ens},
              cbm3d=cb, cbm3d_seconds=cb_s, fast_refit=[names[j]
                                                        for j in refit])


def authors(config, c, clean, names) -> dict:
  """The authors' step per image shape, and their 1900-step time."""
  if not bool(config.authors_time):
    return dict(state='off')
  if not authors_time.available():
    return dict(state='not installed')
  from dd_jax import models
  out, by_shape = dict(state='run', per_image={}), {}
  for n, x in zip(names, clean):
    shape = tuple(x.shape)
    if shape not in by_shape:
      spec = models.make_model(c.model, shape)
      step = authors_time.step_seconds(spec, np.asarray(x))
      by_shape[shape] = step
      logging.info('[beyond] authors\' step at %s: %.1f ms', shape,
                   1e3 * step)
    out['per_image'][n] = dict(step_s=by_shape[shape],
                               fit_s=by_shape[shape] * 1900)
  return out


def rows(results: dict, s: int) -> list[dict]:
  e = results['per_sigma'][s]
  parts = results['parts']
  names = list(parts)
  methods = [(PAPER, e['scores'][PAPER], e['seconds'][PAPER]),
             (FAST, e['scores'][FAST], e['seconds'][FAST]),
             (AUTO, e['scores'][AUTO], e['seconds'][AUTO])]
  methods += [(f'+ ensemble K={k}', e['ensemble'][k],
               e['ensemble_seconds'][k]) for k in sorted(e['ensemble'])]
  methods.append((f"{RECIPE}, K={results['recipe_members']}",
                  e['scores'][RECIPE], e['seconds'][RECIPE]))
  if e['cbm3d']:
    methods.append((CBM3D, e['cbm3d'], e['cbm3d_seconds']))
  out = []
  for label, sc, secs in methods:
    r = {'method': label}
    for n in names:
      r[n] = sc[n][0]
    for part in ('tune', 'test'):
      sel = [sc[n][0] for n in names if parts[n] == part]
      r[f'mean {part}'] = float(np.mean(sel)) if sel else None
    r['mean all'] = float(np.mean([sc[n][0] for n in names]))
    r['mean SSIM'] = float(np.mean([sc[n][1] for n in names]))
    r['s/image'] = float(np.mean([secs[n] for n in names]))
    out.append(r)
  a = results['authors']
  if a['state'] == 'run':
    out.append({'method': "authors' PyTorch, 1900 steps (time only)",
                's/image': float(np.mean([a['per_image'][n]['fit_s']
                                          for n in names]))})
  return out


def report(results: dict, s: int, workdir: str) -> None:
  e = results['per_sigma'][s]
  widths = ', '.join(f"{n} {w['k']} ({w['sigma_est']:.1f})"
                     for n, w in e['widths'].items())
  a = results['authors']
  authors_note = ("authors' s: their PyTorch step timed here x 1900" if
                  a['state'] == 'run' else
                  f"authors' time: {a['state']} (torch: pip install -e "
                  "\".[bench]\")")
  tune = [n for n, p in results['parts'].items() if p == 'tune']
  tables.write_table(
      rows(results, s), workdir, f'beyond_sigma{s}',
      title=f'PSNR (dB) at noise sigma {s}/255',
      notes=f"Tune images (the recipe was chosen on these): "
      f"{', '.join(tune)}; the others are test images. Automatic widths "
      f"(estimated sigma): {widths}. s/image: fit + compile seconds per "
      f"image, ensemble rows prorated by K / {results['members']}. "
      f"{authors_note}. CBM3D: {results['cbm3d']}.")


def plot(path, results) -> None:
  plt = ex.pyplot()
  sigmas = results['sigmas']
  fig, axes = plt.subplots(1, 2, figsize=(10, 3.8), dpi=110)
  for s in sigmas:
    e = results['per_sigma'][s]
    names = list(results['parts'])
    ks = [1] + sorted(e['ensemble'])
    mean = lambda sc: float(np.mean([sc[n][0] for n in names]))
    psnrs = [mean(e['scores'][AUTO])] + [mean(e['ensemble'][k])
                                         for k in ks[1:]]
    secs = [float(np.mean([e['seconds'][AUTO][n] for n in names]))] + [
        float(np.mean([e['ensemble_seconds'][k][n] for n in names]))
        for k in ks[1:]]
    paper = mean(e['scores'][PAPER])
    line, = axes[0].plot(ks, [p - paper for p in psnrs], 'o-',
                         label=f'sigma {s}')
    axes[1].plot(secs, psnrs, 'o-', color=line.get_color(),
                 label=f'ensemble, sigma {s}')
    axes[1].plot([np.mean([e['seconds'][PAPER][n] for n in names])], [paper],
                 's', color=line.get_color(), label=f'paper, sigma {s}')
  a = results['authors']
  if a['state'] == 'run':
    axes[1].axvline(np.mean([v['fit_s'] for v in a['per_image'].values()]),
                    color='gray', ls=':', label="authors' 1900 steps")
  axes[0].set_xscale('log', base=2)
  axes[0].set_xlabel('ensemble size K (fast schedule, auto width)')
  axes[0].set_ylabel('mean PSNR - paper protocol (dB)')
  axes[1].set_xlabel('wall time per image (s)')
  axes[1].set_ylabel('mean PSNR (dB)')
  for ax in axes:
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
  ex.save_figure(fig, path)


if __name__ == '__main__':
  ex.launch(run, os.path.join(os.path.dirname(__file__), 'config.py') + ':cpu',
            'runs/beyond')
