"""Per-image losses `loss(pred, target, weight=None) -> scalar`, by name.

`get_loss(spec)` takes a name from `LOSSES` or a weighted sum of names,
e.g. 'mse', 'ms-ssim-l1' or '0.5*mse+0.5*ssim'.

weight (optional, broadcastable to pred, 1 = observed) comes from the
operator (the inpainting mask) or a held-out split: pixel losses (mse, l1)
average over the observed entries; the structural ones (ssim, ms-ssim) are
computed on weight * pred and weight * target.
"""

import re
from typing import Callable

import jax
import jax.numpy as jnp

from dd_jax.evaluation import metrics
from dd_jax.errors import UserError

Loss = Callable[..., jax.Array]

# Wang, Simoncelli, Bovik 2003, "Multi-scale structural similarity", Table 1.
MS_SSIM_WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)
ZHAO_ALPHA = 0.84  # Zhao et al. 2017, "Loss functions for image restoration".


def _weighted_mean(err, weight):
  if weight is None:
    return jnp.mean(err)
  w = jnp.broadcast_to(weight, err.shape).astype(err.dtype)
  return jnp.sum(w * err) / jnp.maximum(jnp.sum(w), 1.0)


def mse(pred: jax.Array, target: jax.Array, weight=None) -> jax.Array:
  """Mean squared error over all (or the observed) elements."""
  return _weighted_mean(jnp.square(pred - target), weight)


def l1(pred: jax.Array, target: jax.Array, weight=None) -> jax.Array:
  return _weighted_mean(jnp.abs(pred - target), weight)


def _image_pair(pred, target, weight):
  if pred.ndim != 3:
    raise UserError(f'SSIM-type losses need image measurements [H, W, C]; '
                    f'this operator gives shape {pred.shape}. Use mse or l1.')
  if weight is not None:
    pred, target = pred * weight, target * weight
  return pred, target


def ssim(pred: jax.Array, target: jax.Array, weight=None) -> jax.Array:
  """1 - SSIM (metrics.ssim: skimage's gaussian-window SSIM, data range 1)."""
  pred, target = _image_pair(pred, target, weight)
  return 1.0 - metrics.ssim(pred, target)


def _valid_window(sigma: float, size: int) -> jax.Array:
  """metrics.gaussian_window, cut (and renormalized) to fit `size` pixels."""
  w = metrics.gaussian_window(sigma)
  if len(w) > size:
    cut = (len(w) - size + 1) // 2
    w = w[cut:len(w) - cut]
    w = w / w.sum()
  return jnp.asarray(w, jnp.float32)


def _ssim_terms(x, y, w, c1=0.01**2, c2=0.03**2):
  """Mean luminance term l and contrast-structure term cs (valid windows)."""
  f = lambda a: metrics._filter_valid(a, w)  # pylint: disable=protected-access
  mx, my = f(x), f(y)
  vx, vy, cxy = f(x * x) - mx * mx, f(y * y) - my * my, f(x * y) - mx * my
  cs = (2 * cxy + c2) / (vx + vy + c2)
  lum = (2 * mx * my + c1) / (mx * mx + my * my + c1)
  return jnp.mean(lum * cs), jnp.mean(cs)


def _avg_pool2(x):
  h, w = x.shape[0] // 2 * 2, x.shape[1] // 2 * 2
  x = x[:h, :w]
  return 0.25 * (x[0::2, 0::2] + x[1::2, 0::2] + x[0::2, 1::2] + x[1::2, 1::2])


def ms_ssim_value(x: jax.Array, y: jax.Array, sigma: float = 1.5,
                  weights=MS_SSIM_WEIGHTS) -> jax.Array:
  """MS-SSIM (Wang et al. 2003): prod_j cs_j^w_j * l_M^w_M over 5 scales,
  2x2 average pooling between scales, the 11-tap sigma 1.5 Gaussian window
  (cut to the image at coarse scales of small images; a side under 2 pixels
  is not pooled further, so every scale has pixels). Negative terms are
  clipped to 1e-6 so the powers stay real and differentiable."""
  out = 1.0
  for j, wj in enumerate(weights):
    win = _valid_window(sigma, min(x.shape[0], x.shape[1]))
    ssim_j, cs_j = _ssim_terms(x, y, win)
    last = j == len(weights) - 1
    out = out * jnp.maximum(ssim_j if last else cs_j, 1e-6) ** wj
    if not last and min(x.shape[0], x.shape[1]) >= 2:  # else: stay
      x, y = _avg_pool2(x), _avg_pool2(y)
  return out


def ms_ssim(pred: jax.Array, target: jax.Array, weight=None) -> jax.Array:
  """1 - MS-SSIM."""
  pred, target = _image_pair(pred, target, weight)
  return 1.0 - ms_ssim_value(pred, target)


def gaussian_l1(pred, target, weight=None, sigma: float = 1.5):
  """L1 weighted by the Gaussian window (Zhao et al.'s G * |pred - target|):
  the mean over valid windows of the Gaussian-filtered absolute error."""
  pred, target = _image_pair(pred, target, weight)
  w = _valid_window(sigma, min(pred.shape[0], pred.shape[1]))
  return jnp.mean(metrics._filter_valid(jnp.abs(pred - target), w))  # pylint: disable=protected-access


def ms_ssim_l1(pred, target, weight=None, alpha: float = ZHAO_ALPHA):
  """Zhao et al.'s mix alpha (1 - MS-SSIM) + (1 - alpha) G * L1, alpha .84."""
  return (alpha * ms_ssim(pred, target, weight) +
          (1 - alpha) * gaussian_l1(pred, target, weight))


LOSSES: dict[str, Loss] = {
    'mse': mse,
    'l1': l1,
    'ssim': ssim,
    'ms-ssim': ms_ssim,
    'ms-ssim-l1': ms_ssim_l1,
}

_TERM = re.compile(r'^\s*(?:([0-9.eE+-]+)\s*\*\s*)?([a-z0-9-]+)\s*$')


def get_loss(spec: str) -> Loss:
  """A loss by name, or a weighted sum such as '0.8*mse+0.2*l1'."""
  terms = []
  for part in str(spec).split('+'):
    match = _TERM.match(part)
    if not match or match.group(2) not in LOSSES:
      raise UserError(f'Unknown fit.loss {spec!r}; give one of '
                      f'{sorted(LOSSES)} or a weighted sum like '
                      f'"0.8*mse+0.2*l1".')
    try:
      coeff = float(match.group(1)) if match.group(1) else 1.0
    except ValueError:
      raise UserError(f'fit.loss {spec!r}: bad weight {match.group(1)!r}.'
                      ) from None
    terms.append((coeff, LOSSES[match.group(2)]))
  if len(terms) == 1 and terms[0][0] == 1.0:
    return terms[0][1]

  def total(pred, target, weight=None):
    return sum(c * fn(pred, target, weight) for c, fn in terms)

  return total
