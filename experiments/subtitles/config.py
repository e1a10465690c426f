"""Subtitle removal: masks found in the frame (operator.mask.kind='auto_text')
and inpainted with MSE vs MS-SSIM+L1 (the follow-up paper's sec. 3 and 5.2).

  python -m experiments.subtitles.run \
    --config=experiments/subtitles/config.py:cpu --workdir=runs/subtitles_cpu

Built-in images get white subtitles with a dark outline burned into their
bottom band (`inpaint.burn_subtitles`, which also returns the true mask); the
mask is found in each frame (`inpaint.auto_text_mask`, settings in
operator.mask.auto_*) and scored against the true one (IoU), then each frame
is inpainted with every loss of `losses`, scored against the clean image at
`report_steps`.

full: astronaut, coffee, chelsea, rocket at 512x512, k=256 d=6 (the follow-up's
k=256, five upsamplings), 3000 steps, report at 100, 1000, 3000 (GPU: not run
here). cpu (~15 min on 2 shared cores, a third of it compiling: each frame
has its own operator, so each fit is its own compiled call): astronaut,
coffee, chelsea at 128x128, k=64 d=5, 1000 steps, log every 50, report at
100 and 1000 (README.md). test (compile-bound, ~1 min cold on this loaded
machine, seconds with the tests' compilation cache): astronaut 32x32, tiny
model, 4 steps.

Sections: data (images, size, channels), operator (name='mask', mask.kind=
'auto_text' and its auto_* settings, noise), model, optim, fit (the run
sections shared by every fit; fit.loss is set per entry of `losses`),
losses (comma-separated fit.loss names), report_steps (multiples of
fit.log_every, at most fit.steps), subtitles (lines: one subtitle per image,
cycled, lines split at '\\n'; size and outline in pixels; bottom: where the
last line ends, a fraction of the height).
"""

import ml_collections

from configs import common

# size, k, depth, steps, log_every, report steps, font size, outline
SETTINGS = {'full': (512, 256, 6, 3000, 100, (100, 1000, 3000), 40, 3),
            'cpu': (128, 64, 5, 1000, 50, (100, 1000), 12, 1),
            'test': (32, 8, 3, 4, 2, (2, 4), 9, 1)}
IMAGES = {'full': 'astronaut,coffee,chelsea,rocket',
          'cpu': 'astronaut,coffee,chelsea', 'test': 'astronaut'}
# Short lines: at 128x128 they fit at the cpu preset's 12 px (burn_subtitles
# shrinks a font whose line would not fit the width).
SUBTITLES = ("I never said that.\nYou dreamt it.",
             "Where were you?\nAt the movies.",
             "Don't look back.\nJust keep walking.",
             "We'll always\nhave Paris.")


def get_config(arg=None):
  a = common.parse_arg(arg)
  p = a.preset
  size, k, depth, steps, log_every, report, font, outline = SETTINGS[p]
  c = common.base_config(p)
  c.preset = p
  c.data.images, c.data.size, c.data.channels = IMAGES[p], size, 'rgb'
  c.model.k, c.model.depth = k, depth
  c.operator.name = 'mask'
  c.operator.noise.name = 'none'
  c.operator.mask.kind = 'auto_text'
  c.operator.mask.auto_outline = outline  # the subtitles' outline width
  c.fit.steps, c.fit.log_every = steps, log_every
  c.fit.best_iterate = False  # Scored: the output at each report step.
  c.losses = 'mse,ms-ssim-l1'
  c.report_steps = report
  c.subtitles = ml_collections.ConfigDict(dict(
      lines=SUBTITLES if p != 'test' else ('Hi!',), size=font,
      outline=outline, bottom=0.95))
  return c
