"""What `dd_jax.run` writes: PNGs per image, summary.json / .txt, psnr.png.

    rec = write_image_outputs(workdir, image)   # image: an engine record
    finish(workdir, summary, histories, has_clean)

Every file is written atomically: into a temporary file beside it, then
renamed over it (`atomic_path`), so a reader or an interrupted run never sees
half a file. metrics.jsonl is appended and flushed record by record
(`MetricsLog`). JSON is strict: NaN and infinities are written as null.

A complex image (data.complex) is written as <name>_<kind>_magnitude.png,
<name>_<kind>_phase.png (phase -pi..pi mapped to black..white) and the
complex64 array <name>_<kind>.npy (`[H, W]` for one channel, else
`[H, W, C]`: what `images.load_complex` reads back).
"""

import contextlib
import json
import math
import os
import tempfile

from absl import logging
import numpy as np

from dd_jax.io import images as data_lib


@contextlib.contextmanager
def atomic_path(path: str):
  """Yields a temporary path beside `path` (same extension, hidden name);
  when the block ends without error it replaces `path` in one rename, else
  it is removed."""
  folder, base = os.path.split(path)
  stem, ext = os.path.splitext(base)
  fd, tmp = tempfile.mkstemp(prefix=f'.{stem}.', suffix=f'.tmp{ext}',
                             dir=folder or '.')
  os.close(fd)
  os.chmod(tmp, 0o666 & ~_umask())  # mkstemp's file is private (0600).
  try:
    yield tmp
    os.replace(tmp, path)
  finally:
    if os.path.exists(tmp):
      os.remove(tmp)


def _umask() -> int:
  mask = os.umask(0)
  os.umask(mask)
  return mask


def write_text(path: str, text: str):
  """Writes `text` to `path` atomically (flushed to disk first)."""
  with atomic_path(path) as tmp:
    with open(tmp, 'w') as f:
      f.write(text)
      f.flush()
      os.fsync(f.fileno())


def strict(obj):
  """`obj` with NaN / inf as None and numpy values as Python ones: what
  strict JSON can hold."""
  if isinstance(obj, dict):
    return {str(k): strict(v) for k, v in obj.items()}
  if isinstance(obj, (list, tuple)):
    return [strict(v) for v in obj]
  if isinstance(obj, np.ndarray):
    return strict(obj.tolist())
  if isinstance(obj, np.generic):
    obj = obj.item()
  if isinstance(obj, float) and not math.isfinite(obj):
    return None
  return obj


def to_json(obj, indent=None) -> str:
  """Strict JSON text of `obj` (see `strict`)."""
  return json.dumps(strict(obj), indent=indent, allow_nan=False)


def write_json(path: str, obj, indent: int = 2):
  write_text(path, to_json(obj, indent) + '\n')


class MetricsLog:
  """metrics.jsonl: one strict-JSON record per line, each appended and
  flushed as it comes, so an interrupted run keeps every record made."""

  def __init__(self, path: str, fresh: bool = True):
    self.path = path
    if fresh:
      write_text(path, '')

  def append(self, record: dict):
    with open(self.path, 'a') as f:
      f.write(to_json(record) + '\n')
      f.flush()
      os.fsync(f.fileno())


def write_npy(path: str, arr):
  """Writes `arr` as a .npy file, atomically."""
  with atomic_path(path) as tmp:
    with open(tmp, 'wb') as f:
      np.save(f, arr)


def save_image(workdir: str, name: str, kind: str, img, info=None,
               complex_valued: bool = False):
  """<name>_<kind>.png at the input's bit depth and with its alpha (`info`,
  an `images.ImageInfo`); of a complex image (channel pairs) the magnitude
  and phase PNGs and the complex .npy instead (module docstring)."""
  kw = {} if info is None else dict(bits=info.bits, alpha=info.alpha)
  base = os.path.join(workdir, f'{name}_{kind}')
  if not complex_valued:  # images.save_png writes atomically.
    data_lib.save_png(f'{base}.png', img, **kw)
    return
  z = data_lib.to_complex(np.asarray(img, np.float32))
  data_lib.save_png(f'{base}_magnitude.png', np.abs(z), **kw)
  data_lib.save_png(f'{base}_phase.png', (np.angle(z) + np.pi) / (2 * np.pi),
                    **kw)
  write_npy(f'{base}.npy', z[..., 0] if z.shape[-1] == 1 else z)


def write_image_outputs(workdir: str, image: dict, info=None, *,
                        mask: bool = False) -> dict:
  """<name>_corrupted / _restored / _clean / _ema.png of one engine record
  (`save_image`: complex images as magnitude, phase and .npy), at the
  input's bit depth and with its alpha (`info`, an `images.ImageInfo`);
  with `mask` (inpainting) <name>_mask.png, the mask the fit used (its
  aux['mask']; white = observed, so it can be given back as
  operator.mask.kind). Returns its summary entry (PSNRs, SSIM, complex
  errors, finite, stop_step; observed, the mask's observed fraction)."""
  name, x, y = image['name'], image['clean'], image['y']
  cplx = bool(image.get('complex_valued', False))

  def png(kind, img):
    save_image(workdir, name, kind, img, info, cplx)

  if y.ndim == 3 and y.shape[-1] in (1, 2, 3, 4):  # not k-space / CS vectors
    png('corrupted', y)
  png('restored', image['restored'])
  rec = {}
  if mask:
    m = np.asarray(image['aux']['mask'], np.float32)
    data_lib.save_png(os.path.join(workdir, f'{name}_mask.png'), m)
    rec['observed'] = float(m.mean())
  if x is not None:
    png('clean', x)
    rec['psnr_restored'], rec['ssim_restored'] = image['psnr'], image['ssim']
    if 'psnr_corrupted' in image:
      rec['psnr_corrupted'] = image['psnr_corrupted']
    if cplx:  # PSNR and SSIM above are of the magnitude.
      rec['complex'] = dict(image['complex_errors'],
                            psnr_ssim_of='magnitude')
  rec['finite'] = image['finite']
  if image.get('diverged_step') is not None:
    rec['diverged_step'] = image['diverged_step']
  if image['ema'] is not None:
    rec.update(write_ema_output(workdir, image, info))
  if image['stop_step'] is not None:
    rec['stop_step'] = image['stop_step']
  if image.get('members') is not None:
    rec['ensemble'] = write_ensemble_outputs(workdir, image)
  if image.get('blend') is not None:  # fit.blend
    rec['blend'] = dict(share=float(image['blend']), **(
        {'psnr_unblended': image['psnr_unblended']}
        if 'psnr_unblended' in image else {}))
  if image.get('auto_k') is not None:  # model.k = 0
    rec['auto_width'] = dict(k=int(image['auto_k']),
                             sigma_est=float(image['sigma_est']))
  return rec


def write_ensemble_outputs(workdir: str, image: dict) -> dict:
  """fit.ensemble: <name>_std.npy (per-pixel std over the members) and
  <name>_std.png (its channel mean, colormap + colorbar); with a clean image
  the calibration: Spearman correlation of std and |error| over pixels, and
  <name>_calibration.png, mean |error| per std decile."""
  name, std = image['name'], np.asarray(image['std'], np.float32)
  base = os.path.join(workdir, name)
  write_npy(f'{base}_std.npy', std)
  plt = _pyplot()
  fig, ax = plt.subplots(figsize=(5, 4), dpi=100)
  shown = ax.imshow(std.mean(axis=-1) if std.ndim == 3 else std,
                    cmap='magma')
  fig.colorbar(shown, ax=ax, label='std over members')
  ax.set_title(f'{name}: {len(image["members"])} members')
  ax.axis('off')
  _save_fig(fig, f'{base}_std.png')
  out = {'members': int(len(image['members'])),
         'reduce': image.get('ensemble_reduce', 'mean'),
         'std_mean': float(std.mean())}
  if image.get('member_psnr') is not None:
    out['member_psnr'] = image['member_psnr']
    out['member_ssim'] = image['member_ssim']
    err = np.abs(np.asarray(image['restored']) - np.asarray(image['clean']))
    out['calibration'] = calibration(std, err)
    _plot_calibration(out['calibration'], f'{base}_calibration.png', name)
  return out


def calibration(std, err, bins: int = 10) -> dict:
  """Spearman rank correlation of per-pixel std and |error|, and per std
  decile the mean std and mean |error| (a reliability curve)."""
  from scipy import stats
  s, e = np.ravel(std), np.ravel(err)
  rho = float(stats.spearmanr(s, e).statistic) if s.std() > 0 else None
  edges = np.quantile(s, np.linspace(0, 1, bins + 1))
  which = np.clip(np.searchsorted(edges, s, side='right') - 1, 0, bins - 1)
  rows = [(float(s[which == b].mean()), float(e[which == b].mean()))
          for b in range(bins) if np.any(which == b)]
  return {'spearman': rho, 'bin_std': [r[0] for r in rows],
          'bin_abs_error': [r[1] for r in rows]}


def _plot_calibration(cal: dict, path: str, name: str):
  plt = _pyplot()
  fig, ax = plt.subplots(figsize=(4.5, 4), dpi=100)
  ax.plot(cal['bin_std'], cal['bin_abs_error'], 'o-', label='per std decile')
  top = max(cal['bin_std'] + cal['bin_abs_error'])
  ax.plot([0, top], [0, top], 'k--', lw=0.8, label='|error| = std')
  rho = cal['spearman']
  ax.set_title(f'{name}: Spearman {rho:.2f}' if rho is not None else name)
  ax.set_xlabel('ensemble std')
  ax.set_ylabel('mean |error| vs clean')
  ax.legend(fontsize=8)
  _save_fig(fig, path)


def _pyplot():
  import matplotlib
  matplotlib.use('Agg')
  import matplotlib.pyplot as plt
  return plt


def _save_fig(fig, path: str):
  with atomic_path(path) as tmp:
    fig.tight_layout()
    fig.savefig(tmp, format='png')
  _pyplot().close(fig)


def write_ema_output(workdir: str, image: dict, info=None) -> dict:
  """The EMA of the outputs (fit.ema), DIP's reported result."""
  save_image(workdir, image['name'], 'ema', image['ema'], info,
             bool(image.get('complex_valued', False)))
  return {} if 'psnr_ema' not in image else {'psnr_ema': image['psnr_ema']}


def output_files(names, ema: bool = False, ensemble: bool = False,
                 complex_valued: bool = False, mask: bool = False
                 ) -> list[str]:
  """The files `write_image_outputs` and `finish` may write for `names`."""
  kinds = ('clean', 'corrupted', 'restored') + (('ema',) if ema else ())
  ends = (('_magnitude.png', '_phase.png', '.npy') if complex_valued
          else ('.png',))
  extra = (('std.npy', 'std.png', 'calibration.png') if ensemble else ()) + (
      ('mask.png',) if mask else ())
  return (['metrics.jsonl', 'summary.json', 'summary.txt', 'psnr.png'] +
          [f'{n}_{kind}{e}' for n in names for kind in kinds for e in ends] +
          [f'{n}_{e}' for n in names for e in extra])


def _db(value) -> str:
  return 'n/a' if value is None or not math.isfinite(value) else (
      f'{value:.2f} dB')


def summary_text(summary: dict) -> str:
  """One line per image (PSNR before -> after, SSIM, notes), then the time."""
  lines = []
  for name, rec in summary['images'].items():
    if 'psnr_restored' in rec:
      before = (f'{_db(rec["psnr_corrupted"])} -> '
                if 'psnr_corrupted' in rec else '')
      ssim = rec['ssim_restored']
      ssim = 'n/a' if ssim is None or not math.isfinite(ssim) else (
          f'{ssim:.4f}')
      of = ' of the magnitude' if 'complex' in rec else ''
      lines.append(f'{name}: PSNR{of} {before}{_db(rec["psnr_restored"])}, '
                   f'SSIM {ssim}')
      if 'complex' in rec:
        lines[-1] += _complex_text(rec['complex'])
    else:
      lines.append(f'{name}: restored (no clean image, no PSNR)')
    if 'psnr_ema' in rec:
      lines[-1] += f', EMA of outputs {_db(rec["psnr_ema"])}'
    ens = rec.get('ensemble')
    if ens:
      lines[-1] += f' [{ens["reduce"]} of {ens["members"]} members'
      if ens.get('member_psnr'):
        lines[-1] += (f'; members {min(ens["member_psnr"]):.2f}-'
                      f'{max(ens["member_psnr"]):.2f} dB')
        rho = ens['calibration']['spearman']
        if rho is not None:
          lines[-1] += f'; std vs |error| Spearman {rho:.2f}'
      lines[-1] += ']'
    if 'blend' in rec:
      b = rec['blend']
      lines[-1] += f', {b["share"]:.3f} of the noisy image blended back' + (
          f' (fit alone {_db(b["psnr_unblended"])})'
          if 'psnr_unblended' in b else '')
    if 'auto_width' in rec:
      aw = rec['auto_width']
      lines[-1] += (f' [automatic width k={aw["k"]} for noise sigma '
                    f'{aw["sigma_est"]:.1f}/255 estimated]')
    if rec.get('stop_step') is not None and rec['stop_step'] >= 0:
      lines[-1] += f' [stopped at step {rec["stop_step"]}]'
    if not rec['finite']:
      lines[-1] += (f' [diverged: non-finite loss at step '
                    f'{rec.get("diverged_step", "?")}; kept the last weights '
                    'with a finite, lowest loss; lower optim.lr]')
  stop = summary.get('interrupted')
  if stop:
    lines.append(f'INTERRUPTED ({stop["signal"]}) at step {stop["step"]}; '
                 f'not fitted: {", ".join(stop["not_started"]) or "none"}; '
                 'results so far')
  lines.append(f'total time {summary["seconds"]:.1f} s')
  return '\n'.join(lines) + '\n'


def _complex_text(c: dict) -> str:
  """The complex errors' part of an image's summary line."""
  def fmt(value, spec):
    return ('n/a' if value is None or not math.isfinite(value)
            else format(value, spec))
  return (f', complex relative L2 error {fmt(c["rel_l2_error"], ".4f")}, '
          f'phase error {fmt(c["phase_error_rad"], ".4f")} rad over the '
          f'{fmt(100 * c["phase_support"], ".0f")}% of pixels with |x| > '
          f'{c["support_threshold"]:g} max |x|')


def finish(workdir: str, summary: dict, histories: dict, has_clean: bool):
  """summary.json (strict JSON), summary.txt (also logged) and psnr.png."""
  write_json(os.path.join(workdir, 'summary.json'), summary)
  text = summary_text(summary)
  write_text(os.path.join(workdir, 'summary.txt'), text)
  logging.info('[run] summary\n%s[run] wrote %s', text, workdir)
  plot(os.path.join(workdir, 'psnr.png'), histories, has_clean)


def plot(path: str, histories: dict, has_clean: bool):
  """{name: (steps, values)}: PSNR (or loss, without clean) vs step."""
  import matplotlib
  matplotlib.use('Agg')
  import matplotlib.pyplot as plt
  fig, ax = plt.subplots(figsize=(6, 4), dpi=100)
  for name, (steps, values) in histories.items():
    ax.plot(steps, values, label=name)
  ax.set_xlabel('step')
  if has_clean:
    ax.set_ylabel('PSNR of the output vs clean image (dB)')
  else:
    ax.set_ylabel('training loss')
    ax.set_yscale('log')
  ax.grid(alpha=0.3)
  ax.legend(fontsize=8)
  fig.tight_layout()
  with atomic_path(path) as tmp:
    fig.savefig(tmp)
  plt.close(fig)
