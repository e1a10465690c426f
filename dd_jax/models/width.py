"""Automatic width (`model.k = 0`): the deep decoder's k from the noise level.

The paper (sec. 4.1, Fig. 4) reports that weaker noise wants a wider net:
with more parameters the decoder fits more of the image before it fits the
noise. The rule here is a power law in the noise sigma, scaled with the
image side (a decoder's parameters grow as k^2 and an image's values as its
side^2, so k / side keeps their ratio):

    k = K_REF * (sigma / SIGMA_REF) ** -SLOPE * sqrt(H * W) / SIDE_REF,

rounded to a multiple of 8 and clipped to [K_MIN, K_MAX]. sigma is in
1/255 units, estimated from the measurement (fitting.stopping.
estimate_sigma, the MAD of its finest diagonal Haar band) by the fit
engine, which picks k per image and fits images of one width together.
K_REF and SLOPE were fitted by experiments/auto_width (the best k per image
and sigma on its fitting images, validated on others; its README has the
fit and the table).
"""

import math

import ml_collections

from dd_jax.errors import UserError

AUTO = 0          # model.k = AUTO picks the width per measurement
SIGMA_REF = 25.0  # 1/255 units
SIDE_REF = 256
# Fitted by experiments/auto_width:cpu (its rule.json: 71.5, 1.108).
K_REF = 72.0      # k at sigma 25 for a 256x256 image
SLOPE = 1.1       # d log k / d log sigma, negated
K_MIN, K_MAX, MULTIPLE = 8, 256, 8
CHECK_K = 16      # the nominal width that validation traces with


def is_auto(model_cfg) -> bool:
  """The deep decoder with model.k = 0 and no explicit channels."""
  return (model_cfg.get('name', 'deep_decoder') == 'deep_decoder'
          and not model_cfg.get('channels')
          and int(model_cfg.get('k', 1)) == AUTO)


def auto_k(sigma_255: float, hw, k_ref: float = K_REF,
           slope: float = SLOPE) -> int:
  """The rule's k for noise sigma (1/255 units) and an image of `hw`."""
  sigma = max(float(sigma_255), 0.5)  # noise-free: the widest within range
  side = math.sqrt(float(hw[0]) * float(hw[1]))
  k = k_ref * (sigma / SIGMA_REF) ** -slope * side / SIDE_REF
  k = MULTIPLE * round(k / MULTIPLE)
  return int(min(max(k, K_MIN), K_MAX))


def with_k(model_cfg, k: int) -> ml_collections.ConfigDict:
  """A copy of `model_cfg` with width k."""
  out = ml_collections.ConfigDict(model_cfg.to_dict())
  out.k = int(k)
  return out


def check(model_cfg) -> None:
  """One-line errors for model.k = 0 where it cannot apply."""
  if int(model_cfg.get('k', 1)) != AUTO:
    if int(model_cfg.get('k', 1)) < 0:
      raise UserError(f'model.k must be >= 0 (0: automatic width), got '
                      f'{model_cfg.k}.')
    return
  if model_cfg.get('init_from'):
    raise UserError('model.k=0 (automatic width) with model.init_from: a '
                    "saved init fixes the width; give its k or init_from=''.")
