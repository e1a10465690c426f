"""Subtitle removal: the mask found in the frame vs the true one, and
inpainting with MSE vs MS-SSIM+L1 at a few step counts.

  python -m experiments.subtitles.run \
    --config=experiments/subtitles/config.py:cpu --workdir=runs/subtitles_cpu

For each clean image: the frame with burned-in subtitles and the true mask
(`inpaint.burn_subtitles`); the operator found in the frame (operator.mask,
kind='auto_text': `operators.make_operator(..., frame=frame)`), whose mask is
scored against the true one (IoU, precision, recall); then, for every loss
of `losses`, one fit of the masked frame (y = frame * mask, what the operator
measures). Each frame has its own operator, so each fit is its own
`engine.fit_images` call; every loss fits the same frame from the same keys
(image index i). The fit's probe keeps the current output at every log step,
scored at `report_steps` against the clean image: PSNR, SSIM, the PSNR over the true
text pixels (where the subtitles were: what inpainting has to fill in), and
PSNR / SSIM of the composite (the measured pixels pasted back over the
output, what a subtitle remover would show).

Writes masks.csv/.md, restoration.csv/.md, curves.png (PSNR and text PSNR vs
step, mean over the images), <image>.png (the frame, the masks and every
restoration), <image>_frame.png, _mask.png (found, white = observed),
_true_mask.png, _<loss>_step<s>.png, and results.json.
"""

import os
import time

from absl import logging
import jax.numpy as jnp
import ml_collections
import numpy as np

from dd_jax import experiment as ex
from dd_jax import models
from dd_jax import run as run_lib
from dd_jax.errors import UserError
from dd_jax.evaluation import metrics
from dd_jax.fitting import engine
from dd_jax.inverse import inpaint
from dd_jax.inverse import losses as losses_lib
from dd_jax.inverse import operators
from dd_jax.io import images as data_lib
from dd_jax.io import inputs
from dd_jax.io import progress
from dd_jax.io import tables
from dd_jax.io import writers

LABELS = {'mse': 'MSE', 'ms-ssim-l1': 'MS-SSIM+L1'}


def loss_names(config) -> list[str]:
  """The fit.loss names of `config.losses` (comma-separated), checked."""
  names = [s.strip() for s in str(config.losses).split(',') if s.strip()]
  if not names:
    raise UserError("losses: give fit.loss names, comma-separated, e.g. "
                    "'mse,ms-ssim-l1'.")
  for name in names:
    losses_lib.get_loss(name)
  return list(dict.fromkeys(names))


def report_steps(config) -> list[int]:
  """config.report_steps, checked: logged steps (multiples of fit.log_every)
  no later than fit.steps."""
  steps, every = int(config.fit.steps), int(config.fit.log_every)
  out = []
  for s in tuple(config.report_steps):
    if (isinstance(s, bool) or not float(s).is_integer() or not
        0 < s <= steps or int(s) % every):
      raise UserError(f'report_steps: {s!r} is not a logged step; give '
                      f'multiples of fit.log_every={every} up to '
                      f'fit.steps={steps}.')
    out.append(int(s))
  if not out:
    raise UserError('report_steps: give at least one step.')
  return sorted(set(out))


def run_config(config, loss: str) -> ml_collections.ConfigDict:
  """The run sections (and seed) of `config`, with fit.loss = `loss`."""
  c = ml_collections.ConfigDict()
  c.seed = config.seed
  for key in ex.RUN_SECTIONS + ('mesh', 'output'):
    c[key] = ml_collections.ConfigDict(config[key].to_dict())
  c.fit.loss = loss
  return c


def subtitle(config, i: int) -> str:
  lines = tuple(config.subtitles.lines)
  if not lines:
    raise UserError('subtitles.lines: give at least one subtitle.')
  return str(lines[i % len(lines)])


def burn(config, clean):
  """(frames, true text masks) of the clean images."""
  s = config.subtitles
  bottom = float(s.bottom)
  if not 0 < bottom <= 1:
    raise UserError(f'subtitles.bottom must be in (0, 1], got {bottom}.')
  out = [inpaint.burn_subtitles(x, subtitle(config, i), size=int(s.size),
                                outline=int(s.outline), bottom=bottom)
         for i, x in enumerate(clean)]
  return [f for f, _ in out], [t for _, t in out]


def mask_scores(observed, text) -> dict:
  """The found mask (True = observed) against the true text pixels."""
  found = ~np.asarray(observed, bool)
  both = float(np.sum(found & text))
  return dict(iou=both / max(float(np.sum(found | text)), 1.0),
              precision=both / max(float(found.sum()), 1.0),
              recall=both / max(float(text.sum()), 1.0),
              masked=float(found.mean()), text=float(text.mean()))


def scores(out, x, text, y=None, observed=None) -> dict:
  """PSNR and SSIM of `out` vs the clean `x`; PSNR over the text pixels;
  with the fitted `y` and its mask `observed`, PSNR and SSIM of the
  composite (the observed pixels of y, the masked ones of `out`: the output
  with what was measured pasted back; without them, of `out`)."""
  psnr = lambda a: float(metrics.psnr(jnp.asarray(a), jnp.asarray(x)))
  ssim = lambda a: float(metrics.ssim(jnp.asarray(a), jnp.asarray(x)))
  err = np.square(np.asarray(out, np.float64) - x)[text]
  comp = out if y is None else np.where(observed[..., None], y, out)
  return dict(psnr=psnr(out), ssim=ssim(out),
              psnr_text=float(10 * np.log10(1 / max(err.mean(), 1e-12))),
              psnr_composite=psnr(comp), ssim_composite=ssim(comp))


def current_output(image, y, clean):
  """The fit's probe: the current output itself."""
  del y, clean
  return image


def run(config, workdir):
  t0 = time.time()
  names_l = loss_names(config)
  at = report_steps(config)
  cfgs = {loss: run_config(config, loss) for loss in names_l}
  for c in cfgs.values():
    run_lib.check_settings(c)
  if not operators.from_frame(config.operator):
    raise UserError("operator: this experiment finds the mask in the frame; "
                    "set operator.name='mask' and "
                    "operator.mask.kind='auto_text'.")
  names, clean = inputs.load_images(config.data,
                                    models.size_multiple(config.model))
  clean = [np.asarray(x, np.float32) for x in clean]
  frames, texts = burn(config, clean)
  ops = [operators.make_operator(config.operator, f.shape, frame=f)
         for f in frames]  # Each frame's mask, checked.
  for c in cfgs.values():  # One traced step per loss (no fit yet).
    run_lib.check_shape(c, frames[0].shape, simulate=False, frame=frames[0])
  ex.prepare(workdir, config, runs=[])  # Everything is checked above.

  results = dict(preset=config.get('preset', ''), images={},
                 losses=names_l, report_steps=at)
  bar = progress.Progress(len(cfgs) * len(clean) * int(config.fit.steps),
                          'subtitles')
  for i, (name, x, frame, text, op) in enumerate(
      zip(names, clean, frames, texts, ops)):
    observed = np.asarray(op.make_aux(None, 0)['mask'])
    y = frame * observed[..., None]
    entry = dict(mask=mask_scores(observed, text),
                 frame=scores(frame, x, text), fits={})
    logging.info('[subtitles] %s: mask IoU %.3f (precision %.3f, recall '
                 '%.3f)', name, entry['mask']['iou'],
                 entry['mask']['precision'], entry['mask']['recall'])
    save = lambda kind, img, n=name: data_lib.save_png(
        os.path.join(workdir, f'{n}_{kind}.png'), img)
    save('clean', x)
    save('frame', frame)
    save('mask', observed.astype(np.float32))
    save('true_mask', (~text).astype(np.float32))
    outputs = {}
    for loss, c in cfgs.items():
      res = engine.fit_images(c, clean=[x], measurements=[y], names=[name],
                              indices=[i], operator=op, probe=current_output,
                              progress=bar, verbose=False)
      rec = res[0]
      log_steps = [int(s) for s in rec['history'][0]]
      outs = rec['history_probe']
      curve = [scores(o, x, text, y, observed) for o in outs]
      entry['fits'][loss] = dict(
          steps=log_steps, curve=curve, seconds=res.seconds,
          at={s: curve[log_steps.index(s)] for s in at})
      outputs[loss] = {s: outs[log_steps.index(s)] for s in at}
      for s in at:
        save(f'{loss}_step{s}', outputs[loss][s])
      logging.info('[subtitles] %s, %s: %s', name, loss, '; '.join(
          f'step {s}: {v["psnr"]:.2f} dB, text {v["psnr_text"]:.2f} dB'
          for s, v in entry['fits'][loss]['at'].items()))
    results['images'][name] = entry
    plot_image(os.path.join(workdir, f'{name}.png'), name, x, frame, y,
               observed, text, outputs, entry)
  bar.close()
  report(results, workdir)
  results['seconds'] = time.time() - t0
  writers.write_json(os.path.join(workdir, 'results.json'), results)
  logging.info('[subtitles] wrote %s in %.0f s', workdir, results['seconds'])
  return results


def report(results: dict, workdir: str) -> None:
  """masks and restoration (.csv/.md) and curves.png from `results`."""
  images, at = results['images'], results['report_steps']
  mask_rows = [dict(image=n, **{k: e['mask'][k] for k in (
      'iou', 'precision', 'recall', 'masked', 'text')})
               for n, e in images.items()]
  mask_rows.append(tables.mean_row(mask_rows, 'image', 'mean', [
      'iou', 'precision', 'recall', 'masked', 'text']))
  tables.write_table(
      mask_rows, workdir, 'masks', title='Found mask vs true subtitle mask',
      notes='iou, precision, recall of the masked (text) pixels; masked: '
      'share of the frame the found mask hides; text: share the subtitles '
      'cover.')
  metrics_ = {'PSNR': 'psnr', 'SSIM': 'ssim', 'text PSNR': 'psnr_text',
              'composite PSNR': 'psnr_composite',
              'composite SSIM': 'ssim_composite'}
  keys = [f'{m} @{s}' for m in metrics_ for s in at]
  rows = []
  for label, get in [('subtitled frame', lambda e, s: e['frame'])] + [
      (LABELS.get(l, l), lambda e, s, l=l: e['fits'][l]['at'][s])
      for l in results['losses']]:
    per = []
    for n, e in images.items():
      r = {'image': n, 'input': label}
      for s in at:
        v = get(e, s)
        r.update({f'{m} @{s}': v[k] for m, k in metrics_.items()})
      per.append(r)
    rows += per
    if len(per) > 1:
      rows.append(dict(tables.mean_row(per, 'image', 'mean', keys),
                       input=label))
  tables.write_table(
      rows, workdir, 'restoration', columns=['image', 'input'] + keys,
      title='Restoration vs the clean image at each report step',
      notes='PSNR (dB) and SSIM of the whole output; text PSNR: over the true '
      'subtitle pixels only (what inpainting fills in); composite: the '
      'observed pixels of the frame with the output in the masked ones. The '
      'subtitled frame is the input before masking (the same at every '
      'step).')
  plot_curves(results, os.path.join(workdir, 'curves.png'))


def plot_curves(results: dict, path: str) -> None:
  plt = ex.pyplot()
  fig, axes = plt.subplots(1, 2, figsize=(10, 3.8), dpi=110)
  for j, loss in enumerate(results['losses']):
    fits = [e['fits'][loss] for e in results['images'].values()]
    steps = fits[0]['steps']
    for ax, key in zip(axes, ('psnr', 'psnr_text')):
      mean = np.mean([[c[key] for c in f['curve']] for f in fits], axis=0)
      ax.plot(steps, mean, color=f'C{j}', label=LABELS.get(loss, loss))
  frame = np.mean([e['frame']['psnr_text'] for e in
                   results['images'].values()])
  axes[1].axhline(frame, color='gray', ls=':', label='subtitled frame')
  for ax, what in zip(axes, ('whole image', 'subtitle pixels only')):
    ax.set_xscale('log')
    ax.set_xlabel('optimizer step')
    ax.set_ylabel(f'PSNR, {what} (dB)')
    ax.grid(alpha=0.3, which='both')
    ax.legend(fontsize=8)
  fig.suptitle(f'Mean over {len(results["images"])} image(s)', fontsize=9)
  ex.save_figure(fig, path)


def mask_overlay(observed, text) -> np.ndarray:
  """RGB: green = text masked, red = masked but not text, blue = text
  missed (left observed)."""
  found = ~np.asarray(observed, bool)
  out = np.zeros(found.shape + (3,), np.float32)
  out[..., 0] = found & ~text
  out[..., 1] = found & text
  out[..., 2] = text & ~found
  return out


def plot_image(path, name, x, frame, y, observed, text, outputs, entry):
  """Row 0: clean, subtitled frame, found vs true mask, masked frame; then
  one row per loss, one column per report step."""
  plt = ex.pyplot()
  steps = list(next(iter(outputs.values())))
  cols = max(4, len(steps))
  fig, axes = plt.subplots(1 + len(outputs), cols,
                           figsize=(2.6 * cols, 2.8 * (1 + len(outputs))),
                           dpi=80, squeeze=False)
  m = entry['mask']
  top = [(x, 'clean'), (frame, 'subtitled frame'),
         (mask_overlay(observed, text),
          f'mask IoU {m["iou"]:.2f}\n(green hit, red extra, blue missed)'),
         (y, 'masked frame (fitted)')]
  for ax, (img, title) in zip(axes[0], top):
    ax.imshow(np.clip(img, 0, 1))
    ax.set_title(title, fontsize=8)
  for r, (loss, outs) in enumerate(outputs.items(), start=1):
    for ax, s in zip(axes[r], steps):
      v = entry['fits'][loss]['at'][s]
      ax.imshow(np.clip(outs[s], 0, 1))
      ax.set_title(f'{LABELS.get(loss, loss)}, step {s}\n{v["psnr"]:.2f} dB,'
                   f' text {v["psnr_text"]:.2f} dB', fontsize=8)
  for ax in axes.ravel():
    ax.axis('off')
  fig.suptitle(name, fontsize=9)
  ex.save_figure(fig, path)


if __name__ == '__main__':
  ex.launch(run, os.path.join(os.path.dirname(__file__), 'config.py') + ':cpu',
            'runs/subtitles')
