"""Rate-distortion of the deep-decoder codec vs JPEG, JPEG2000, WebP, wavelets.

  PYTHONPATH=. python -m experiments.rate_distortion.run --preset cpu \
      --out runs/rd_cpu
  PYTHONPATH=. python -m experiments.rate_distortion.run --preset full \
      --out runs/rd_full
  PYTHONPATH=. python -m experiments.rate_distortion.run --out runs/rd_cpu \
      --summarize             # re-plot / re-tabulate from results.jsonl

Every point is a real file: .ddz bytes from `dd_jax.compress.encode`
(header, tables, checksum included), Pillow's JPEG/WebP/JPEG2000 bytes, the
wavelet codec's LZMA bytes. bpp = bytes * 8 / (H W). Writes results.jsonl
(one record per point), summary.md (BD-rates, sensitivity gain, timings)
and rd_<image>.png.
"""

import argparse
import json
import os
import time

import jax
import numpy as np

from dd_jax import compress as C
from dd_jax import data as data_lib
from dd_jax import metrics
from dd_jax import models
from experiments.rate_distortion import baselines as B

SHARED = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.dirname(os.path.abspath(__file__))))), 'shared', 'images')

PRESETS = {
    # ~10-15 min on 2 busy cores.
    'cpu': dict(size=128, images=['astronaut', 'coffee'], ks=[8, 16, 32],
                steps=1000, bits=[3, 4, 5, 6, 8], qat_steps=150),
    # The paper's regime is larger images: one 256x256 image, ~25 min here.
    'cpu256': dict(size=256, images=['astronaut'], ks=[16, 32], steps=800,
                   bits=[4, 5, 6, 8], qat_steps=150),
    # Hours: 512x512 like the paper; shared images when present.
    'full': dict(size=512, images=['shared:astronaut.png', 'shared:sf4_rgb.png',
                                   'shared:mri.png', 'coffee', 'camera'],
                 ks=[32, 64, 128], steps=5000, bits=[3, 4, 5, 6, 7, 8],
                 qat_steps=500),
}
JPEG_Q = [3, 5, 8, 12, 18, 25, 35, 50, 65, 80, 90]
WEBP_Q = [0, 3, 8, 15, 25, 40, 55, 70, 85, 95]
J2K_BPP = [0.05, 0.08, 0.12, 0.18, 0.25, 0.35, 0.5, 0.7, 1.0, 1.5, 2.0, 3.0,
           4.0]
WAV_FRAC = [0.003, 0.006, 0.01, 0.02, 0.035, 0.05, 0.08, 0.12, 0.2, 0.3]


def load(name, size):
  if name.startswith('shared:'):
    path = os.path.join(SHARED, name.split(':', 1)[1])
    if not os.path.isfile(path):
      print(f'[rd] {path} absent, skipped', flush=True)
      return None
    name = path
  img = data_lib.load_image(name, 'auto')
  if img.shape[2] == 4:
    img = img[..., :3]
  return data_lib.fit_size(img, size, 1, name)


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


def run_dd(name, img, cfg, emit, seed=0):
  px = img.shape[0] * img.shape[1]
  hw = img.shape[:2]
  for k in cfg['ks']:
    spec = C.codec_spec(img.shape, k)
    t0 = time.time()
    params = C.fit_image(img, spec, seed=seed, steps=cfg['steps'])
    fit_s = time.time() - t0
    z = C.input_for_seed(seed, spec)
    render = C.make_render(spec, tuple(hw))
    float_psnr = float(metrics.psnr(render(params, z), img))
    n = models.num_params(spec)
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


def redo_baselines(out_dir):
  path = os.path.join(out_dir, 'results.jsonl')
  recs = [json.loads(l) for l in open(path)]
  cfg = [r for r in recs if r['method'] == 'meta'][0]['cfg']
  keep = [r for r in recs if r['method'] not in ('jpeg', 'webp', 'jpeg2000',
                                                 'wavelet')]
  new = []
  for name in cfg['images']:
    img = load(name, cfg['size'])
    if img is not None:
      short = os.path.splitext(os.path.basename(name.split(':')[-1]))[0]
      run_baselines(short, img, new.append)
  with open(path + '.tmp', 'w') as f:
    for r in keep + new:
      f.write(json.dumps(r) + '\n')
  os.replace(path + '.tmp', path)


# ------------------------------------------------------------------ summary
METHODS = ['jpeg', 'webp', 'jpeg2000', 'wavelet', 'dd_uniform',
           'dd_sensitivity', 'dd_sensitivity_qat']


def summarize(out_dir):
  recs = [json.loads(l) for l in open(os.path.join(out_dir, 'results.jsonl'))]
  meta = [r for r in recs if r.get('method') == 'meta']
  lines = ['# Rate-distortion results', '']
  if meta:
    lines.append(f'preset `{meta[-1]["preset"]}`: {json.dumps(meta[-1]["cfg"])}'
                 f'; total time {meta[-1].get("seconds", float("nan")):.0f} s')
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


def main():
  p = argparse.ArgumentParser()
  p.add_argument('--preset', choices=sorted(PRESETS), default='cpu')
  p.add_argument('--out', required=True)
  p.add_argument('--summarize', action='store_true',
                 help='Only rebuild summary.md and plots from results.jsonl.')
  p.add_argument('--redo-baselines', action='store_true',
                 help='Recompute the JPEG/WebP/JPEG2000/wavelet points of an '
                 'existing --out (keeps the deep-decoder points).')
  p.add_argument('--images', default='', help='Comma list overriding preset.')
  p.add_argument('--steps', type=int, default=0)
  p.add_argument('--ks', default='', help='Comma list of k overriding preset.')
  p.add_argument('--qat-steps', type=int, default=-1)
  args = p.parse_args()
  if args.summarize:
    summarize(args.out)
    return
  if args.redo_baselines:
    redo_baselines(args.out)
    summarize(args.out)
    return
  cfg = dict(PRESETS[args.preset])
  if args.images:
    cfg['images'] = args.images.split(',')
  if args.steps:
    cfg['steps'] = args.steps
  if args.ks:
    cfg['ks'] = [int(k) for k in args.ks.split(',')]
  if args.qat_steps >= 0:
    cfg['qat_steps'] = args.qat_steps
  os.makedirs(args.out, exist_ok=True)
  path = os.path.join(args.out, 'results.jsonl')
  if os.path.exists(path):
    raise SystemExit(f'{path} exists; choose another --out.')
  t0 = time.time()

  def emit(rec):
    with open(path, 'a') as f:
      f.write(json.dumps(rec) + '\n')

  emit(dict(method='meta', preset=args.preset, cfg=cfg,
            jax=jax.__version__))
  for name in cfg['images']:
    img = load(name, cfg['size'])
    if img is None:
      continue
    short = os.path.splitext(os.path.basename(name.split(':')[-1]))[0]
    run_baselines(short, img, emit)
    run_dd(short, img, cfg, emit)
    print(f'[rd] {short} done at {time.time() - t0:.0f} s', flush=True)
  emit(dict(method='meta', preset=args.preset, cfg=cfg,
            seconds=time.time() - t0))
  summarize(args.out)


if __name__ == '__main__':
  main()
