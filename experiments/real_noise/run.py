"""Real-noise denoising: deep decoder (no sigma) vs CBM3D at the estimated
sigma, on noisy/reference pairs.

  python -m experiments.real_noise.run \
    --config=experiments/real_noise/config.py:cpu --workdir=runs/real_noise_cpu

The pairs: the files of data.folder paired by data.pair (PolyU names,
`inputs.pair_sources`), or, with data.folder='', synthetic pairs written
first into <workdir>/pairs by `camera_noise.write_pairs` (section `camera`).
Each noisy image is fitted as it is (operator identity, no noise added,
fit.steps steps of the plain protocol: the fit never sees a noise level nor
the reference). Its noise std is estimated from the noisy image alone
(`camera_noise.estimate_noise_std`, scikit-image's wavelet estimate) and
CBM3D denoises at that sigma (baselines.cbm3d; 'not installed' without the
`bm3d` package). The references score everything (PSNR, SSIM) and give the
noise's actual std, std(noisy - reference), beside the estimate.

Writes results.csv/.md (per image and mean), images.png (noisy, deep
decoder, CBM3D, reference per image), <scene>_noisy.png, _dd.png,
_cbm3d.png, _reference.png, and results.json.
"""

import importlib.util
import os
import time

from absl import logging
import jax.numpy as jnp
import ml_collections
import numpy as np

from dd_jax import experiment as ex
from dd_jax import run as run_lib
from dd_jax.errors import UserError
from dd_jax.evaluation import baselines
from dd_jax.evaluation import metrics
from dd_jax.fitting import engine
from dd_jax.inverse import camera_noise
from dd_jax.io import images as data_lib
from dd_jax.io import inputs
from dd_jax.io import progress
from dd_jax.io import tables
from dd_jax.io import writers

NOT_INSTALLED = 'not installed'
SKIPPED = 'off'
PAIRS = 'pairs'  # <workdir>/pairs: the synthetic pairs


def run_config(config) -> ml_collections.ConfigDict:
  """The run sections of one fit (the data section's file fields unused:
  the experiment loads the pairs itself)."""
  c = ml_collections.ConfigDict()
  c.seed = config.seed
  for key in ex.RUN_SECTIONS + ('mesh', 'output'):
    c[key] = ml_collections.ConfigDict(config[key].to_dict())
  for key in ('folder', 'crop_size'):
    del c.data[key]
  c.data.pair = c.data.reference = ''
  if c.operator.name != 'identity' or c.operator.noise.name != 'none':
    raise UserError("operator: real-noise denoising fits the noisy file as "
                    "it is; keep operator.name='identity' and "
                    "operator.noise.name='none'.")
  return c


def cbm3d_state(config) -> str:
  """'run', NOT_INSTALLED or SKIPPED (baselines.cbm3d=False)."""
  if not bool(config.baselines.cbm3d):
    return SKIPPED
  return 'run' if importlib.util.find_spec('bm3d') else NOT_INSTALLED


def camera_settings(config) -> dict:
  cam = config.camera
  q = int(cam.jpeg_quality or 0)
  return dict(a=float(cam.a), b=float(cam.b), bayer=bool(cam.bayer),
              jpeg_quality=q or None)


def _crop(img, size: int, multiple: int, name: str):
  if size:
    if min(img.shape[:2]) < size:
      raise UserError(f'{name}: {img.shape[0]}x{img.shape[1]} is smaller '
                      f'than data.crop_size={size}.')
    img = data_lib.center_crop(img, (size, size))
  return data_lib.fit_size(img, 0, multiple, name)


def load_pairs(config, folder: str, pair: str, multiple: int):
  """(names, noisy, references, sources) of the pairs in `folder`."""
  ms, refs = inputs.pair_sources(folder, config.data.reference, pair)
  names = [n[:-len('_real')] if n.endswith('_real') else n
           for n in data_lib.unique_names(ms)]
  size = int(config.data.crop_size)
  noisy, clean = [], []
  for m, r in zip(ms, refs):
    y, x = data_lib.load_image(m, 'rgb'), data_lib.load_image(r, 'rgb')
    if y.shape != x.shape:
      raise UserError(f'{m} is {y.shape[0]}x{y.shape[1]} but its reference '
                      f'{r} is {x.shape[0]}x{x.shape[1]}.')
    noisy.append(_crop(y, size, multiple, m))
    clean.append(_crop(x, size, multiple, r))
  return names, noisy, clean, list(zip(ms, refs))


def check(config):
  """Every setting and input, before the workdir is touched; returns the
  run config."""
  c = run_config(config)
  run_lib.check_settings(c)
  mult = inputs.size_multiple(c)
  if config.data.folder:
    if not os.path.isdir(config.data.folder):
      raise UserError(f'data.folder={config.data.folder!r} is not a folder; '
                      f"give the pairs' folder, or '' for synthetic pairs.")
    shapes = {y.shape for y in load_pairs(config, config.data.folder,
                                          config.data.pair, mult)[1]}
  else:
    cam = camera_settings(config)
    camera_noise.check_settings(a=cam['a'], b=cam['b'],
                                jpeg_quality=cam['jpeg_quality'])
    sources = data_lib.list_sources(config.data.images)
    size = int(config.data.size)
    data_lib.check_size(size, mult)
    shapes = set()
    for s in sources:
      x = data_lib.fit_size(data_lib.load_image(s, 'rgb'), size, mult, s)
      shapes.add(x.shape)
  for shape in shapes:
    run_lib.check_shape(c, shape, simulate=False)
  return c


def scores(out, ref) -> dict:
  return dict(psnr=float(metrics.psnr(jnp.asarray(out), jnp.asarray(ref))),
              ssim=float(metrics.ssim(jnp.asarray(out), jnp.asarray(ref))))


def run(config, workdir):
  t0 = time.time()
  c = check(config)
  state = cbm3d_state(config)
  ex.prepare(workdir, config, runs=[])  # Everything is checked above.
  mult = inputs.size_multiple(c)
  truth = None
  if config.data.folder:
    folder, pair = config.data.folder, config.data.pair
  else:
    folder = os.path.join(workdir, PAIRS)
    cam = camera_settings(config)
    recs = camera_noise.write_pairs(
        folder, data_lib.list_sources(config.data.images),
        size=int(config.data.size), seed=int(config.camera.seed), **cam)
    ext = 'png' if cam['jpeg_quality'] is None else 'jpg'
    pair = f'*_real.{ext}:*_mean.png'
    truth = cam
    logging.info('[real_noise] wrote %d synthetic pair(s) into %s',
                 len(recs), folder)
  names, noisy, clean, sources = load_pairs(config, folder, pair, mult)

  results = dict(preset=config.get('preset', ''), folder=folder, pair=pair,
                 camera=truth, cbm3d=state, images={})
  for name, y, x, (m, r) in zip(names, noisy, clean, sources):
    t = time.time()
    sigma = camera_noise.estimate_noise_std(y)
    results['images'][name] = dict(
        noisy_file=m, reference_file=r, shape=list(y.shape),
        sigma_est=sigma, estimate_s=time.time() - t,
        true_std=float(np.std(np.asarray(y, np.float64) - x)),
        noisy=scores(y, x))
  bar = progress.Progress(len(noisy) * int(c.fit.steps), 'real_noise')
  res = engine.fit_images(c, measurements=noisy, clean=clean, names=names,
                          progress=bar, verbose=False)
  bar.close()
  for gi, g in enumerate(res.groups):
    for j in g['images']:
      rec = res[j]
      e = results['images'][names[j]]
      e['dd'] = dict(psnr=float(rec['psnr']), ssim=float(rec['ssim']),
                     seconds=float(g['seconds']) / len(g['images']),
                     compile_s=float(g.get('compile_s', 0.0)), group=gi)
      data_lib.save_png(os.path.join(workdir, f'{names[j]}_dd.png'),
                        np.asarray(rec['restored']))
  outs = {}
  for name, y, x in zip(names, noisy, clean):
    e = results['images'][name]
    save = lambda kind, img, n=name: data_lib.save_png(
        os.path.join(workdir, f'{n}_{kind}.png'), img)
    save('noisy', y)
    save('reference', x)
    if state == 'run':
      t = time.time()
      out = baselines.bm3d_denoise(y, e['sigma_est'])
      e['cbm3d'] = dict(scores(out, x), seconds=time.time() - t)
      save('cbm3d', out)
      outs[name] = out
    logging.info('[real_noise] %s: sigma est %.2f/255 (actual %.2f/255), '
                 'noisy %.2f dB, deep decoder %.2f dB, CBM3D %s', name,
                 255 * e['sigma_est'], 255 * e['true_std'],
                 e['noisy']['psnr'], e['dd']['psnr'],
                 f"{e['cbm3d']['psnr']:.2f} dB" if 'cbm3d' in e else state)
  results['dd_seconds'] = res.seconds
  report(results, workdir)
  plot(os.path.join(workdir, 'images.png'), results, names, noisy, clean,
       [np.asarray(r['restored']) for r in res], outs)
  results['seconds'] = time.time() - t0
  writers.write_json(os.path.join(workdir, 'results.json'), results)
  logging.info('[real_noise] wrote %s in %.0f s', workdir, results['seconds'])
  return results


COLUMNS = ['image', 'sigma est (/255)', 'actual std (/255)', 'noisy PSNR',
           'noisy SSIM', 'DD PSNR', 'DD SSIM', 'CBM3D PSNR', 'CBM3D SSIM',
           'DD s', 'CBM3D s']


def rows(results: dict) -> list[dict]:
  """The table's rows: one per image, then the mean."""
  state = results['cbm3d']
  out = []
  for name, e in results['images'].items():
    r = {'image': name, 'sigma est (/255)': 255 * e['sigma_est'],
         'actual std (/255)': 255 * e['true_std'],
         'noisy PSNR': e['noisy']['psnr'], 'noisy SSIM': e['noisy']['ssim'],
         'DD PSNR': e['dd']['psnr'], 'DD SSIM': e['dd']['ssim'],
         'DD s': e['dd']['seconds']}
    if 'cbm3d' in e:
      r.update({'CBM3D PSNR': e['cbm3d']['psnr'],
                'CBM3D SSIM': e['cbm3d']['ssim'],
                'CBM3D s': e['cbm3d']['seconds']})
    else:
      r.update({k: state for k in ('CBM3D PSNR', 'CBM3D SSIM', 'CBM3D s')})
    out.append(r)
  mean = tables.mean_row(out, 'image', 'mean', COLUMNS[1:])
  for k in COLUMNS[1:]:
    mean.setdefault(k, state)
  return out + [mean]


def report(results: dict, workdir: str) -> None:
  cam = results['camera']
  jpeg = cam and (cam['jpeg_quality'] or 'none (PNG)')
  source = (f"synthetic pairs (camera a={cam['a']}, b={cam['b']}, bayer="
            f"{cam['bayer']}, JPEG quality {jpeg})"
            if cam else f"the pairs of {results['folder']} "
            f"(data.pair={results['pair']!r})")
  cbm3d = {NOT_INSTALLED: "CBM3D: the `bm3d` package is not installed (pip "
                          "install -e \".[baselines]\").",
           SKIPPED: 'CBM3D: off (baselines.cbm3d=False).',
           'run': 'CBM3D: bm3d.bm3d_rgb at the estimated sigma.'}[
               results['cbm3d']]
  tables.write_table(
      rows(results), workdir, 'results', columns=COLUMNS,
      title='Real-noise denoising vs the reference',
      notes=f"Inputs: {source}. sigma est: the noise std estimated from the "
      f"noisy image alone (scikit-image estimate_sigma, mean over channels; "
      f"it assumes white noise); actual std: std(noisy - reference). "
      f"PSNR (dB) and SSIM against the reference. The deep decoder fits the "
      f"noisy image with no sigma, fit.steps steps; DD s: the fit's wall time "
      f"(images of one shape are fitted together, vmapped: their call's time "
      f"over its images, compilation apart); CBM3D s: one image's call. "
      f"{cbm3d}")


def plot(path, results, names, noisy, clean, dd, cbm3d) -> None:
  plt = ex.pyplot()
  cols = 4 if cbm3d else 3
  fig, axes = plt.subplots(len(names), cols, figsize=(2.6 * cols,
                                                      2.8 * len(names)),
                           dpi=90, squeeze=False)
  for row, (name, y, x, d) in enumerate(zip(names, noisy, clean, dd)):
    e = results['images'][name]
    panels = [(y, f"{name}: noisy {e['noisy']['psnr']:.2f} dB\n"
                  f"sigma est {255 * e['sigma_est']:.1f}/255, actual "
                  f"{255 * e['true_std']:.1f}/255"),
              (d, f"deep decoder {e['dd']['psnr']:.2f} dB")]
    if cbm3d:
      panels.append((cbm3d[name], f"CBM3D {e['cbm3d']['psnr']:.2f} dB"))
    panels.append((x, 'reference'))
    for ax, (img, title) in zip(axes[row], panels):
      ax.imshow(np.clip(img, 0, 1))
      ax.set_title(title, fontsize=7)
      ax.axis('off')
  ex.save_figure(fig, path)


if __name__ == '__main__':
  ex.launch(run, os.path.join(os.path.dirname(__file__), 'config.py') + ':cpu',
            'runs/real_noise')
