"""Wall time and steps until a fit reaches a PSNR, for learning-rate schedules.

    PYTHONPATH=$PWD python benchmarks/time_to_quality.py --out=/tmp/ttq
    PYTHONPATH=$PWD python benchmarks/time_to_quality.py --out=/tmp/ttq \
      --schedules=paper,cosine02 --preset=cpu --target=25

Runs the real launcher (`dd_jax.run.run`) on configs/denoise.py (astronaut
512, sigma 25, k=128, d=6: REFERENCE.md's 29.22 dB after 1900 steps) once
per schedule, evaluating every `--log_every` steps, and reads the PSNR of
the returned (best-iterate) image from metrics.jsonl. Reports the first
logged step at or above `--target` dB and the wall time to it (compile
included), beside the reference PyTorch code's time for 1900 steps at
REFERENCE.md section 6's 1651 ms per step (52 min).
"""

import argparse
import json
import os

from configs import denoise
from dd_jax import run as run_lib

REF_MS_PER_STEP = 1651  # REFERENCE.md section 6, config (b), 2 threads.
REF_STEPS = 1900

# name -> (steps, optim overrides). 'paper' is the reference's protocol.
SCHEDULES = {
    'paper': (1900, dict(lr=0.01, schedule='constant')),
    'cosine02': (1000, dict(lr=0.02, schedule='cosine', final_ratio=0.05)),
    'warmup_cosine03': (1000, dict(lr=0.03, schedule='warmup_cosine',
                                   warmup_steps=50, final_ratio=0.03)),
    'warmup_cosine05': (1000, dict(lr=0.05, schedule='warmup_cosine',
                                   warmup_steps=50, final_ratio=0.02)),
    'step02': (1000, dict(lr=0.02, schedule='step', decay_every=250,
                          decay_rate=0.5)),
}


# The reference's test image (the paper's supplement), when the checkout has
# ../shared; scikit-image's astronaut is a different picture.
SHARED_ASTRONAUT = os.path.join(os.path.dirname(__file__), '..', '..', 'shared',
                                'images', 'astronaut.png')


def config_for(name: str, preset: str, log_every: int, images: str):
  steps, optim = SCHEDULES[name]
  c = denoise.get_config(preset)
  c.data.images = images
  if preset != 'full':  # Keep each preset's step count in proportion.
    steps = round(steps * c.fit.steps / REF_STEPS)
  c.fit.steps, c.fit.log_every = steps, log_every
  for key, value in optim.items():
    c.optim[key] = value
  return c


def first_reaching(history, target):
  for rec in history:
    if max(rec['psnr']) >= target:
      return rec
  return None


def main(argv=None):
  p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
  p.add_argument('--out', required=True, help='folder for the runs')
  p.add_argument('--schedules', default='paper,cosine02')
  p.add_argument('--preset', default='full', help='configs/denoise.py preset')
  p.add_argument('--target', type=float, default=29.0)
  p.add_argument('--log_every', type=int, default=50)
  p.add_argument('--images', default=(
      SHARED_ASTRONAUT if os.path.exists(SHARED_ASTRONAUT) else 'astronaut'),
                 help='default: ../shared/images/astronaut.png (the image '
                 'REFERENCE.md\'s 29.22 dB is for) if present, else '
                 "scikit-image's astronaut (a different image)")
  args = p.parse_args(argv)
  rows = []
  for name in args.schedules.split(','):
    if name not in SCHEDULES:
      raise SystemExit(f'Unknown schedule {name!r}; choose from {list(SCHEDULES)}')
    c = config_for(name, args.preset, args.log_every, args.images)
    workdir = os.path.join(args.out, name)
    summary = run_lib.run(c, workdir)
    with open(os.path.join(workdir, 'metrics.jsonl')) as f:
      history = [json.loads(line) for line in f]
    hit = first_reaching(history, args.target)
    rows.append((name, c, history[-1], hit, summary['seconds']))
    print(f'[{name}] final {history[-1]["psnr"][0]:.2f} dB after '
          f'{history[-1]["step"]} steps, {summary["seconds"]:.0f} s; '
          f'{args.target} dB ' + (f'at step {hit["step"]}, '
                                  f'{hit["elapsed_s"]:.0f} s' if hit else
                                  'not reached'), flush=True)
  ref_min = REF_MS_PER_STEP * REF_STEPS / 6e4
  print(f'\nreference PyTorch code: 1900 steps x {REF_MS_PER_STEP} ms = '
        f'{ref_min:.0f} min -> 29.22 dB (REFERENCE.md sections 3, 6)')
  print(f'| schedule | optim | steps | final dB | total s | step to {args.target} '
        f'dB | s to {args.target} dB | vs reference 1900-step time |')
  print('|---|---|---|---|---|---|---|---|')
  for name, c, last, hit, seconds in rows:
    optim = ', '.join(f'{k}={v}' for k, v in SCHEDULES[name][1].items())
    step = hit['step'] if hit else '-'
    secs = f'{hit["elapsed_s"]:.0f}' if hit else '-'
    frac = f'{hit["elapsed_s"] / (ref_min * 60):.3f}' if hit else '-'
    print(f'| {name} | {optim} | {c.fit.steps} | {last["psnr"][0]:.2f} | '
          f'{seconds:.0f} | {step} | {secs} | {frac} |')


if __name__ == '__main__':
  main()
