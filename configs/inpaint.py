"""Inpainting (paper sec. 4.3): y = x * mask, no noise.

Defaults: 50% of pixels observed at random (operator.mask.kind=random,
operator.mask.observed=0.5; also block, text or a mask file). The reference's
text mask:
  --config.data.images=../shared/images/poster.png \
  --config.operator.mask.kind=../shared/images/mask.png
(the reference fitted that with k=256, lr .0025, jitter .005 decaying every 500
steps, 40000 steps).

  python -m dd_jax.main --config=configs/inpaint.py --workdir=runs/inpaint
  python -m dd_jax.main --config=configs/inpaint.py:cpu --workdir=runs/ip_cpu
Subtitle removal, the mask found in the frame (the follow-up paper's
segmenter; settings operator.mask.auto_band, auto_threshold, auto_white,
auto_outline, auto_dilation) and written as frame_mask.png:
  python -m dd_jax.main --config=configs/inpaint.py:cpu \
    --config.data.measurement=frame.png --config.operator.mask.kind=auto_text \
    --config.fit.loss=ms-ssim-l1 --workdir=runs/subtitles
Args: preset, observed (fraction kept), k.
"""

from configs import common


def get_config(arg=None):
  a = common.parse_arg(arg, observed=0.5, k=0)
  c = common.base_config(a.preset)
  c.operator.name = 'mask'
  c.operator.noise.name = 'none'
  c.operator.mask.kind = 'random'
  c.operator.mask.observed = a.observed
  c.fit.steps = {'full': 5000, 'cpu': 1500, 'test': 20}[a.preset]
  if a.k:
    c.model.k = a.k
  return c
