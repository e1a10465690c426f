"""What `dd_jax.run` writes: PNGs per image, summary.json / .txt, psnr.png.

    rec = write_image_outputs(workdir, image)   # image: an engine record
    finish(workdir, summary, histories, has_clean)
"""

import json
import os

from absl import logging

from dd_jax.io import images as data_lib


def write_image_outputs(workdir: str, image: dict) -> dict:
  """<name>_corrupted / _restored / _clean / _ema.png of one engine record;
  returns its summary entry (PSNRs, SSIM, finite, stop_step)."""
  name, x, y = image['name'], image['clean'], image['y']
  if y.ndim == 3 and y.shape[-1] in (1, 3, 4):  # not k-space / CS vectors
    data_lib.save_png(os.path.join(workdir, f'{name}_corrupted.png'), y)
  data_lib.save_png(os.path.join(workdir, f'{name}_restored.png'),
                    image['restored'])
  rec = {}
  if x is not None:
    data_lib.save_png(os.path.join(workdir, f'{name}_clean.png'), x)
    rec['psnr_restored'], rec['ssim_restored'] = image['psnr'], image['ssim']
    if 'psnr_corrupted' in image:
      rec['psnr_corrupted'] = image['psnr_corrupted']
  rec['finite'] = image['finite']
  if image['ema'] is not None:
    rec.update(write_ema_output(workdir, image))
  if image['stop_step'] is not None:
    rec['stop_step'] = image['stop_step']
  return rec


def write_ema_output(workdir: str, image: dict) -> dict:
  """The EMA of the outputs (fit.ema), DIP's reported result."""
  data_lib.save_png(os.path.join(workdir, f'{image["name"]}_ema.png'),
                    image['ema'])
  return {} if 'psnr_ema' not in image else {'psnr_ema': image['psnr_ema']}


def summary_text(summary: dict) -> str:
  """One line per image (PSNR before -> after, SSIM, notes), then the time."""
  lines = []
  for name, rec in summary['images'].items():
    if 'psnr_restored' in rec:
      before = (f'{rec["psnr_corrupted"]:.2f} dB -> '
                if 'psnr_corrupted' in rec else '')
      lines.append(f'{name}: PSNR {before}{rec["psnr_restored"]:.2f} dB, '
                   f'SSIM {rec["ssim_restored"]:.4f}')
    else:
      lines.append(f'{name}: restored (no clean image, no PSNR)')
    if 'psnr_ema' in rec:
      lines[-1] += f', EMA of outputs {rec["psnr_ema"]:.2f} dB'
    if rec.get('stop_step', -1) >= 0:
      lines[-1] += f' [stopped at step {rec["stop_step"]}]'
    if not rec['finite']:
      lines[-1] += ' [stopped early: non-finite loss]'
  lines.append(f'total time {summary["seconds"]:.1f} s')
  return '\n'.join(lines) + '\n'


def finish(workdir: str, summary: dict, histories: dict, has_clean: bool):
  """summary.json, summary.txt (also logged) and psnr.png."""
  with open(os.path.join(workdir, 'summary.json'), 'w') as f:
    json.dump(summary, f, indent=2)
  text = summary_text(summary)
  with open(os.path.join(workdir, 'summary.txt'), 'w') as f:
    f.write(text)
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
  fig.savefig(path)
  plt.close(fig)
