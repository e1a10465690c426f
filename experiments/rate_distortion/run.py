"""Rate-distortion of the deep-decoder codec vs JPEG, JPEG2000, WebP, wavelets.

  PYTHONPATH=. python -m experiments.rate_distortion.run \
    --config=experiments/rate_distortion/config.py:cpu --workdir=runs/rd_cpu
  PYTHONPATH=. python -m experiments.rate_distortion.run \
    --config=experiments/rate_distortion/config.py:cpu,size=256 \
    --workdir=runs/rd_cpu256
  PYTHONPATH=. python -m experiments.rate_distortion.run \
    --config=experiments/rate_distortion/config.py:cpu --workdir=runs/rd_cpu \
    --config.summarize_only=True   # re-plot / re-tabulate from results.jsonl

Every point is a real file: .ddz bytes from `dd_jax.compress.encode`
(header, tables, checksum included), Pillow's JPEG/WebP/JPEG2000 bytes, the
wavelet codec's LZMA bytes. bpp = bytes * 8 / (H W). Writes config.json,
results.jsonl (one record per point; a 'done' record closes each image's
baselines and each (image, k) fit), summary.md (BD-rates, sensitivity gain,
timings) and rd_<image>.png.

A workdir holding a run is refused unless --config.resume=True (continue
it: same settings, finished items skipped, partial ones redone) or
--config.output.overwrite=True (start over). summarize_only and
redo_baselines rework the results.jsonl already in --workdir and leave its
config.json alone.
"""

import copy
import json
import os
import time

import jax
import numpy as np

from dd_jax.codec import compress as C
from dd_jax.io import images as data_lib
from dd_jax import experiment as ex
from dd_jax.evaluation import metrics
from dd_jax.errors import UserError
from experiments import shared_images
from experiments.rate_distortion import baselines as B

RESULTS = 'results.jsonl'
BASELINE_METHODS = ('jpeg', 'webp', 'jpeg2000', 'wavelet')
JPEG_Q = [3, 5, 8, 12, 18, 25, 35, 50, 65, 80, 90]
WEBP_Q = [0, 3, 8, 15, 25, 40, 55, 70, 85, 95]
J2K_BPP = [0.05, 0.08, 0.12, 0.18, 0.25, 0.35, 0.5, 0.7, 1.0, 1.5, 2.0, 3.0,
           4.0]
WAV_FRAC = [0.003, 0.006, 0.01, 0.02, 0.035, 0.05, 0.08, 0.12, 0.2, 0.3]


def load(name, size):
  """The image `name` ('shared:<file>' = the authors' image) at size x size,
  or None when a shared image is absent."""
  if name.startswith('shared:'):
    path = shared_images(name.split(':', 1)[1])
    if not path:
      print(f'[rd] shared image {name} absent, skipped', flush=True)
      return None
    name = path
  img = data_lib.load_image(name, 'auto')
  if img.shape[2] == 4:
    img = img[..., :3]
  return data_lib.fit_size(img, size, 1, name)


def short_name(name):
  return os.path.splitext(os.path.basename(name.split(':')[-1]))[0]


def _quality(out, img):
  out = np.asarray(out, np.float32)
  # Every codec is judged on the 8-bit image a user would get.
  out = data_lib.to_uint8(out).reshape(img.shape).astype(np.float32) / 255
  return (float(metrics.psnr(out, img)), float(metrics.ssim(out, img)))


def run_baselines(name, img, emit):
  px = img.shape[0] * img.shape[1]
  for codec, fn, knobs in (('jpeg', B.jpeg, JPEG_Q), ('webp', B.webp, WEBP_Q),
                           ('jpeg2000', B.jpeg2000, J2K_BPP)):
    for q in knobs:
      nbytes, out = fn(img, q)
      emit(dict(image=name, method=codec, knob=q, bytes=nbytes,
                bpp=8 * nbytes / px, **dict(zip(('psnr', 'ssim'),
                                                _quality(out, img)))))
  n_coef = img.size
  for frac in WAV_FRAC:
    for ratio in (0.5, 1.0):
      nbytes, out, exact = B.wavelet_keep_n(img, int(frac * n_coef), ratio)
      psnr, ssim = _quality(out, img)
      emit(dict(image=name, method='wavelet', knob=[frac, ratio], bytes=nbytes,
                bpp=8 * nbytes / px, psnr=psnr, ssim=ssim,
                kept=int(frac * n_coef),
                psnr_unquantized=float(metrics.psnr(exact, img))))


def run_dd(name, img, k, cfg, emit):
  """Fits one decoder of width k, then encodes it at each of cfg['bits']."""
  seed = cfg['seed']
  px = img.shape[0] * img.shape[1]
  hw = img.shape[:2]
  spec = C.codec_spec(img.shape, k)
  t0 = time.time()
  params = C.fit_image(img, spec, seed=seed, steps=cfg['steps'])
  fit_s = time.time() - t0
  z = C.input_for_seed(seed, spec)
  render = C.make_render(spec, tuple(hw))
  float_psnr = float(metrics.psnr(render(params, z), img))
  n = spec.num_params()
  # The paper's view: keep-N wavelet with N = number of weights, free
  # positions and exact values.
  _, _, exact = B.wavelet_keep_n(img, n)
  emit(dict(image=name, method='dd_float', k=k, params=n, fit_s=fit_s,
            psnr=float_psnr, wavelet_same_n_psnr=float(
                metrics.psnr(exact, img))))
  print(f'[rd] {name} k={k}: {n} weights, float {float_psnr:.2f} dB '
        f'(wavelet keep-{n}: {float(metrics.psnr(exact, img)):.2f} dB), '
        f'fit {fit_s:.0f} s', flush=True)
  sens = C.sensitivities(params, spec, z)
  for b in cfg['bits']:
    variants = {
        'dd_uniform': [b] * C.num_tensors(spec),
        'dd_sensitivity': C.allocate_bits(params, spec, sens, b),
    }
    for method, bits in variants.items():
      data = C.encode(params, spec, seed=seed, bits=bits, image_hw=hw)
      out = C.decode(data)
      emit(dict(image=name, method=method, k=k, knob=b, bits=bits,
                bytes=len(data), bpp=8 * len(data) / px,
                coder=C.parse(data).coder,
                **dict(zip(('psnr', 'ssim'), _quality(out, img)))))
    if cfg['qat_steps']:
      t1 = time.time()
      tuned = C.finetune_quantized(params, spec, img, variants[
          'dd_sensitivity'], seed=seed, steps=cfg['qat_steps'])
      data = C.encode(tuned, spec, seed=seed, bits=variants[
          'dd_sensitivity'], image_hw=hw)
      emit(dict(image=name, method='dd_sensitivity_qat', k=k, knob=b,
                bytes=len(data), bpp=8 * len(data) / px,
                qat_s=time.time() - t1,
                **dict(zip(('psnr', 'ssim'), _quality(C.decode(data), img)
                           ))))


def item(rec):
  """The unit of work a record belongs to: 'baselines' or 'dd k=<k>'."""
  if 'item' in rec:
    return rec['item']
  if rec['method'] in BASELINE_METHODS:
    return 'baselines'
  return f'dd k={rec["k"]}'


def run_image(name, cfg, done, emit):
  """Baselines, then one fit per k, for one image; skips (image, item) pairs
  in `done` and emits a 'done' record after each finished item."""
  short = short_name(name)
  todo = [i for i in ['baselines'] + [f'dd k={k}' for k in cfg['ks']]
          if (short, i) not in done]
  img = load(name, cfg['size']) if todo else None
  if img is None:
    return
  if 'baselines' in todo:
    run_baselines(short, img, emit)
    emit(dict(method='done', image=short, item='baselines'))
  for k in cfg['ks']:
    if f'dd k={k}' in todo:
      run_dd(short, img, k, cfg, emit)
      emit(dict(method='done', image=short, item=f'dd k={k}'))


def redo_baselines(out_dir):
  path = os.path.join(out_dir, RESULTS)
  recs = read_results(path)
  cfg = [r for r in recs if r['method'] == 'meta'][0]['cfg']
  keep = [r for r in recs if r['method'] not in BASELINE_METHODS]
  new = []
  for name in cfg['images']:
    img = load(name, cfg['size'])
    if img is not None:
      run_baselines(short_name(name), img, new.append)
  write_results(path, keep + new)


def read_results(path):
  with open(path) as f:
    return [json.loads(l) for l in f if l.strip()]


def write_results(path, recs):
  """Replaces `path` atomically with `recs`, one JSON record per line."""
  with open(path + '.tmp', 'w') as f:
    for r in recs:
      f.write(json.dumps(r) + '\n')
  os.replace(path + '.tmp', path)


# ------------------------------------------------------------------ summary
METHODS = ['jpeg', 'webp', 'jpeg2000', 'wavelet', 'dd_uniform',
           'dd_sensitivity', 'dd_sensitivity_qat']


def summarize(out_dir):
  recs = read_results(os.path.join(out_dir, RESULTS))
  meta = [r for r in recs if r.get('method') == 'meta']
  lines = ['# Rate-distortion results', '']
  if meta:
    # A resumed run: the sessions that finished.
    secs = [r['seconds'] for r in meta if 'seconds' in r] or [float('nan')]
    lines.append(f'preset `{meta[-1]["preset"]}`: {json.dumps(meta[-1]["cfg"])}'
                 f'; total time {sum(secs):.0f} s')
    lines.append('')
  images = sorted({r['image'] for r in recs if 'image' in r})
  lines += ['## BD-rate vs JPEG2000 (PSNR; negative = fewer bytes than '
            'JPEG2000), over the common PSNR range', '',
            '| image | ' + ' | '.join(METHODS[:1] + METHODS[1:]) + ' |',
            '|---' * (len(METHODS) + 1) + '|']
  fronts = {}
  for im in images:
    row = []
    for m in METHODS:
      pts = [(r['bpp'], r['psnr']) for r in recs
             if r.get('image') == im and r.get('method') == m]
      fronts[im, m] = B.pareto(pts)
    ref = fronts[im, 'jpeg2000']
    for m in METHODS:
      f = fronts[im, m]
      if m == 'jpeg2000' or len(f) < 2 or len(ref) < 2:
        row.append('0 (ref)' if m == 'jpeg2000' else 'n/a')
        continue
      v = B.bd_rate(*zip(*ref), *zip(*f))
      row.append('no overlap' if np.isnan(v) else f'{v:+.0f}%')
    lines.append(f'| {im} | ' + ' | '.join(row) + ' |')
  lines += ['', '## PSNR (dB) at the deep decoder\'s rates', '',
            'Each DD point (sensitivity allocation, best of QAT / no QAT) '
            'against the other codecs interpolated to the same bpp.', '',
            '| image | k | bits | bpp | DD | JPEG | WebP | JPEG2000 | '
            'wavelet |', '|---' * 9 + '|']
  for im in images:
    dd = [r for r in recs if r.get('image') == im and r.get('method') in (
        'dd_sensitivity', 'dd_sensitivity_qat')]
    best = {}
    for r in dd:
      key = (r['k'], r['knob'])
      if key not in best or r['psnr'] > best[key]['psnr']:
        best[key] = r
    for (k, b), r in sorted(best.items()):
      cells = []
      for m in ('jpeg', 'webp', 'jpeg2000', 'wavelet'):
        f = fronts[im, m]
        rates, ps = zip(*f) if f else ((), ())
        if f and rates[0] <= r['bpp'] <= rates[-1]:
          cells.append(f'{np.interp(np.log(r["bpp"]), np.log(rates), ps):.2f}')
        else:
          cells.append('-')
      lines.append(f'| {im} | {k} | {b} | {r["bpp"]:.3f} | {r["psnr"]:.2f} | '
                   + ' | '.join(cells) + ' |')
  lines += ['', '## Per-layer bit allocation (appendix B sensitivity) vs '
            'uniform, same k', '',
            'BD-PSNR (dB, + = sensitivity better) and BD-rate of '
            'dd_sensitivity (and + QAT) against dd_uniform.', '',
            '| image | k | BD-PSNR sens | BD-rate sens | BD-PSNR sens+QAT | '
            'BD-rate sens+QAT |', '|---' * 6 + '|']
  for im in images:
    for k in sorted({r['k'] for r in recs if r.get('image') == im and 'k' in r}):
      cur = {m: sorted((r['bpp'], r['psnr']) for r in recs
                       if r.get('image') == im and r.get('k') == k
                       and r.get('method') == m)
             for m in ('dd_uniform', 'dd_sensitivity', 'dd_sensitivity_qat')}
      cells = []
      for m in ('dd_sensitivity', 'dd_sensitivity_qat'):
        if len(cur[m]) < 2 or len(cur['dd_uniform']) < 2:
          cells += ['n/a', 'n/a']
          continue
        ref, test = B.pareto(cur['dd_uniform']), B.pareto(cur[m])
        cells += [f'{B.bd_psnr(*zip(*ref), *zip(*test)):+.2f}',
                  f'{B.bd_rate(*zip(*ref), *zip(*test)):+.0f}%']
      lines.append(f'| {im} | {k} | ' + ' | '.join(cells) + ' |')
  lines += ['', '## Float fit vs the paper\'s keep-N wavelet (N = weights, '
            'no quantization, positions free)', '',
            '| image | k | weights | DD float PSNR | wavelet keep-N PSNR | '
            'fit s |', '|---' * 6 + '|']
  for r in recs:
    if r.get('method') == 'dd_float':
      lines.append(f'| {r["image"]} | {r["k"]} | {r["params"]} | '
                   f'{r["psnr"]:.2f} | {r["wavelet_same_n_psnr"]:.2f} | '
                   f'{r["fit_s"]:.0f} |')
  text = '\n'.join(lines) + '\n'
  with open(os.path.join(out_dir, 'summary.md'), 'w') as f:
    f.write(text)
  print(text)
  _plot(out_dir, images, fronts, recs)


def _plot(out_dir, images, fronts, recs):
  import matplotlib
  matplotlib.use('Agg')
  import matplotlib.pyplot as plt
  for im in images:
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2), dpi=100)
    for m in METHODS:
      pts = sorted((r['bpp'], r['psnr'], r['ssim']) for r in recs
                   if r.get('image') == im and r.get('method') == m)
      if not pts:
        continue
      style = '-o' if m.startswith('dd') else '-'
      f = B.pareto([(p[0], p[1]) for p in pts])
      axes[0].plot(*zip(*f), style, ms=3, label=m)
      fs = B.pareto([(p[0], p[2]) for p in pts])
      axes[1].plot(*zip(*fs), style, ms=3, label=m)
    for ax, lab in zip(axes, ('PSNR (dB)', 'SSIM')):
      ax.set_xscale('log')
      ax.set_xlabel('bits per pixel (file bytes * 8 / pixels)')
      ax.set_ylabel(lab)
      ax.grid(alpha=0.3)
    axes[0].legend(fontsize=7)
    fig.suptitle(im)
    fig.tight_layout()
    fig.savefig(os.path.join(out_dir, f'rd_{im}.png'))
    plt.close(fig)


# ---------------------------------------------------------------------- run
def settings(config) -> dict:
  """What a run's points depend on (the 'cfg' of its meta records)."""
  images = [s.strip() for s in str(config.data.images).split(',')]
  return dict(size=int(config.data.size), images=[s for s in images if s],
              ks=[int(k) for k in config.ks], steps=int(config.fit.steps),
              bits=[int(b) for b in config.bits],
              qat_steps=int(config.qat_steps), seed=int(config.seed))


def resumable(path, cfg):
  """The records of `path` a resumed run keeps: meta records and those of
  finished items. Refuses results made with other settings."""
  recs = read_results(path)
  meta = [r for r in recs if r.get('method') == 'meta']
  if meta and meta[0].get('cfg') != cfg:
    raise UserError(
        f'Cannot resume {path}: it was made with {json.dumps(meta[0]["cfg"])}'
        f' but this config gives {json.dumps(cfg)}. Use the same config or '
        f'another --workdir.')
  done = {(r['image'], r['item']) for r in recs if r.get('method') == 'done'}
  return [r for r in recs if 'image' not in r or (r['image'], item(r)) in done]


def start(config, workdir, cfg):
  """ex.prepare (a resumed run may use its old workdir); returns the records
  kept from an earlier run (none unless config.resume)."""
  path = os.path.join(workdir, RESULTS)
  keep = []
  if config.resume and os.path.isfile(path):
    keep = resumable(path, cfg)
  if config.resume:
    config = copy.deepcopy(config)
    config.output.overwrite = True
  # runs=(): its images ('shared:<file>') load through load() here, not
  # through dd_jax.run.validate.
  ex.prepare(workdir, config, runs=(), markers=('config.json', RESULTS),
             other_way='pass --config.resume=True to continue it')
  if keep:
    write_results(path, keep)
  elif os.path.isfile(path):
    os.remove(path)
  return keep


def rework(config, workdir):
  """summarize_only / redo_baselines: rework the results in `workdir`."""
  path = os.path.join(workdir, RESULTS)
  if not os.path.isfile(path):
    raise UserError(
        f'No {RESULTS} in {workdir!r}: summarize_only and redo_baselines '
        f'rework an earlier run; run the experiment there first.')
  if config.redo_baselines:
    redo_baselines(workdir)
  summarize(workdir)


def run(config, workdir):
  """Fits and codes every image (or reworks an earlier run); see the module
  docstring for resume / overwrite / summarize_only."""
  if config.summarize_only or config.redo_baselines:
    return rework(config, workdir)
  cfg = settings(config)
  kept = start(config, workdir, cfg)
  path = os.path.join(workdir, RESULTS)
  done = {(r['image'], r['item']) for r in kept if r.get('method') == 'done'}
  t0 = time.time()

  def emit(rec):
    with open(path, 'a') as f:
      f.write(json.dumps(rec) + '\n')

  emit(dict(method='meta', preset=config.label, cfg=cfg,
            jax=jax.__version__, resumed=bool(kept)))
  for name in cfg['images']:
    run_image(name, cfg, done, emit)
    print(f'[rd] {short_name(name)} done at {time.time() - t0:.0f} s',
          flush=True)
  emit(dict(method='meta', preset=config.label, cfg=cfg,
            seconds=time.time() - t0))
  summarize(workdir)


if __name__ == '__main__':
  ex.launch(run, os.path.join(os.path.dirname(__file__), 'config.py') + ':cpu',
            'runs/rate_distortion')
