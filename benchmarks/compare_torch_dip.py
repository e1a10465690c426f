"""The ablation paths vs independent PyTorch versions, timed alternately.

    pip install -e .[bench]            # torch==2.13.0 (CPU build)
    PYTHONPATH=$PWD python benchmarks/compare_torch_dip.py --configs=p3c,p5c,dip256
    PYTHONPATH=$PWD python benchmarks/compare_torch_dip.py --configs=p3a,dip512 --repeats=3
    PYTHONPATH=$PWD python benchmarks/compare_torch_dip.py --configs=p3c --roofline

The sibling of compare_torch.py (the 1x1 deep decoder) for the two paths the
ablations run:

- p x p deep decoder (`pNc`, `pNa`: configs (c) and (a) with N x N hidden
  convs): the authors' `decodernw(filter_size_up=p)` per hidden layer
  ReflectionPad2d((p-1)/2) -> Conv2d(p x p, no bias) -> Upsample(x2,
  bilinear) (not in the last layer) -> ReLU -> BatchNorm2d; 1x1 output conv
  + sigmoid (REFERENCE.md section 1). Step as the reference `fit`: Adam .01
  on the MSE plus the best-iterate copy.
- DIP's skip net (`dip256`, `dip512`): their `models/skip.py` with the
  denoising notebook's settings, written here from REFERENCE.md section 4:
  32 input channels, 5 scales of 128 down / 128 up / 4 skip channels,
  reflection padding, stride-2 downsampling convs, bilinear x2, BatchNorm,
  LeakyReLU(0.2, in place), biases, 1x1 head + sigmoid. Step as their
  notebook's closure: input jitter N(0, 1/30^2) redrawn, forward, EMA of the
  output (.99), MSE, backward, PSNR against the noisy image, 5 dB rollback
  check and saving the weights, Adam .01 (their two PSNRs against the clean
  image, numpy copies done for printing, are left out: torch's step here is,
  if anything, a little faster than theirs). Ours: the fit engine with the
  same options (configs/dip_denoise.py).
- `...x2`: two images per call (ours: one call, mapped one by one on CPU /
  vmapped elsewhere; torch: two sequential fits).

1. Equivalence: our params are copied into the torch model; outputs, loss
   and every gradient must agree (max differences printed).
2. Timing: ours (the fit engine's jitted chunk, several steps per call) and
   torch called alternately A B A B; medians and ours / torch.
3. --roofline (`conv_costs`): conv FLOPs per step as direct convolutions
   (torch's) and with our Winograd convs, the GEMM rates of this machine at
   the largest conv's shapes, the minimal bytes and a copy rate; the floors
   they imply and both times over them.
Both libraries run in this one process with the same thread count.
"""

import argparse
import dataclasses
import os
import statistics
import sys
import time

import numpy as np

from benchmarks import threads


def _parse(argv):
  p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
  threads.add_common_args(p, 'p3c,p5c,dip256', 5)
  p.add_argument('--no_torch', action='store_true',
                 help='time ours only (e.g. on a GPU machine)')
  p.add_argument('--wait_load', type=float, default=0.0,
                 help='before each config, wait until the 1-minute load '
                 'average is below this (other jobs on a shared machine)')
  p.add_argument('--steps_per_call', type=int, default=0,
                 help='steps per timed call (0: the config\'s own)')
  return p.parse_args(argv)


ARGS = _parse(sys.argv[1:]) if __name__ == '__main__' else None
if ARGS is not None:
  threads.pin(ARGS.threads)  # before jax and torch are imported

import jax  # pylint: disable=g-import-not-at-top
import jax.numpy as jnp  # pylint: disable=g-import-not-at-top
import ml_collections  # pylint: disable=g-import-not-at-top

from benchmarks import step_time  # pylint: disable=g-import-not-at-top
from dd_jax import fitting as fit_lib  # pylint: disable=g-import-not-at-top
from dd_jax import models  # pylint: disable=g-import-not-at-top
from dd_jax.inverse import losses  # pylint: disable=g-import-not-at-top
from dd_jax.models import layers  # pylint: disable=g-import-not-at-top

try:
  import torch  # pylint: disable=g-import-not-at-top
  from torch import nn  # pylint: disable=g-import-not-at-top
except ImportError:  # --no_torch on a machine without it.
  torch = nn = None


@dataclasses.dataclass(frozen=True)
class Config:
  name: str
  size: int
  kind: str            # 'dd' (p x p deep decoder) or 'dip'
  p: int = 3
  k: int = 64
  depth: int = 5
  n: int = 1           # images per call
  steps_per_call: int = 10


CONFIGS = {c.name: c for c in [
    Config('p3c', 256, 'dd', 3, 64, 5),
    Config('p5c', 256, 'dd', 5, 64, 5),
    Config('p3a', 512, 'dd', 3, 64, 6, steps_per_call=4),
    Config('p5a', 512, 'dd', 5, 64, 6, steps_per_call=3),
    Config('p3c2', 256, 'dd', 3, 64, 5, n=2),
    Config('p3e8', 64, 'dd', 3, 22, 5, n=8, steps_per_call=20),
    Config('dip256', 256, 'dip', steps_per_call=3),
    Config('dip512', 512, 'dip', steps_per_call=2),
    Config('dip256x2', 256, 'dip', n=2, steps_per_call=2),
    Config('dip128', 128, 'dip', steps_per_call=5),
]}


def make_spec(c: Config):
  if c.kind == 'dip':
    return models.Dip(out_channels=3, output_hw=(c.size, c.size))
  return models.DeepDecoder(channels=(c.k,) * (c.depth + 1), out_channels=3,
                            output_hw=(c.size, c.size), conv_size=c.p)


def fit_options(c: Config) -> fit_lib.FitOptions:
  if c.kind == 'dip':  # configs/dip_denoise.py's recipe.
    return fit_lib.FitOptions(best_iterate=False, jitter_std=1 / 30,
                              jitter_decay=1.0, ema=True, ema_weight=0.99,
                              rollback_db=5.0)
  return fit_lib.FitOptions()


# ------------------------------------------------------------------- ours
class Ours:
  """The fit engine's chunk on `n` images; `run()` -> seconds per step."""

  def __init__(self, c: Config, steps_per_call: int):
    t0 = time.perf_counter()
    self.spec = spec = make_spec(c)
    opts = fit_options(c)
    tx = fit_lib.optimizer_from_config(ml_collections.ConfigDict(dict(
        name='adam', lr=0.01, b1=0.9, b2=0.999, eps=1e-8,
        schedule='constant')), 1000)
    apply_fn = lambda p, z: spec.apply({'params': p}, z)
    step = fit_lib.make_step(apply_fn, lambda x, aux: x, losses.mse, tx, opts)
    self.chunk = jax.jit(fit_lib.make_chunk(step, steps_per_call),
                         donate_argnums=(0,))
    keys = jax.random.split(jax.random.key(0), c.n)
    self.ys = jax.random.uniform(jax.random.key(1), (c.n, c.size, c.size, 3))
    self.state, zs = jax.jit(
        lambda k, y: fit_lib.init_state(k, spec, tx, y, opts))(keys, self.ys)
    self.batch = {'z': zs, 'y': self.ys, 'aux': {}}
    self.n = jnp.asarray(steps_per_call, jnp.int32)
    self.steps_per_call = steps_per_call
    self.run()
    self.first_call_s = time.perf_counter() - t0

  def run(self) -> float:
    t0 = time.perf_counter()
    self.state, out = self.chunk(self.state, self.batch, self.n)
    jax.block_until_ready((self.state, out))
    return (time.perf_counter() - t0) / self.steps_per_call


# ----------------------------------------------------------- torch models
def _t(a):
  return torch.from_numpy(np.array(a, np.float32))


def _w_to_torch(w):
  """Our `[p, p, Ci, Co]` (or `[Ci, Co]`) -> torch `[Co, Ci, p, p]`."""
  w = np.asarray(w)
  if w.ndim == 2:
    w = w[None, None]
  return _t(w.transpose(3, 2, 0, 1))


def _w_from_torch(g, ndim):
  g = g.numpy().transpose(2, 3, 1, 0)
  return g[0, 0] if ndim == 2 else g


def _tconv(ci, co, p, stride=1, bias=True):
  """Their `conv(..., pad='reflection')`: ReflectionPad2d + Conv2d."""
  pad = (p - 1) // 2
  conv = nn.Conv2d(ci, co, p, stride, padding=0, bias=bias)
  return (nn.Sequential(nn.ReflectionPad2d(pad), conv) if pad else
          nn.Sequential(conv)), conv


class TorchPxP(nn.Module):
  """decodernw(num_channels_up=[k] * (d - 1), filter_size_up=p), NCHW."""

  def __init__(self, channels, out_channels, p):
    super().__init__()
    d = len(channels) - 1
    mods, self.convs, self.norms = [], [], []
    for i in range(d):
      seq, conv = _tconv(channels[i], channels[i + 1], p, bias=False)
      mods.append(seq)
      if i != d - 1:
        mods.append(nn.Upsample(scale_factor=2, mode='bilinear',
                                align_corners=False))
      mods.append(nn.ReLU())
      bn = nn.BatchNorm2d(channels[i + 1])
      mods.append(bn)
      self.convs.append(conv)
      self.norms.append(bn)
    seq, conv = _tconv(channels[-1], out_channels, 1, bias=False)
    self.convs.append(conv)
    mods += [seq, nn.Sigmoid()]
    self.net = nn.Sequential(*mods)

  def forward(self, z):
    return self.net(z)

  def load_jax(self, params):
    with torch.no_grad():
      for i, (conv, bn) in enumerate(zip(self.convs, self.norms)):
        layer = params[f'layer_{i}']
        conv.weight.copy_(_w_to_torch(layer['w']))
        bn.weight.copy_(_t(layer['gamma']))
        bn.bias.copy_(_t(layer['beta']))
      self.convs[-1].weight.copy_(_w_to_torch(params['out']['w']))

  def grads_as_jax(self, params):
    out = {}
    for i, (conv, bn) in enumerate(zip(self.convs, self.norms)):
      out[f'layer_{i}'] = {
          'w': _w_from_torch(conv.weight.grad, params[f'layer_{i}']['w'].ndim),
          'gamma': bn.weight.grad.numpy(), 'beta': bn.bias.grad.numpy()}
    out['out'] = {'w': _w_from_torch(self.convs[-1].weight.grad, 2)}
    return out


class Concat(nn.Module):
  """Their Concat(dim=1, ...): branches side by side (equal sizes here)."""

  def __init__(self, *branches):
    super().__init__()
    self.branches = nn.ModuleList(branches)

  def forward(self, x):
    return torch.cat([b(x) for b in self.branches], dim=1)


class TorchSkip(nn.Module):
  """DIP's skip(...) hourglass, denoising settings, NCHW."""

  def __init__(self, c_in=32, c_out=3, down=(128,) * 5, up=(128,) * 5,
               skip=(4,) * 5):
    super().__init__()
    self.parts = {}   # (scale, name) -> (conv, bn); ('cat', i) -> bn
    n = len(down)

    def conv_bn_act(i, name, ci, co, p, stride=1):
      seq, conv = _tconv(ci, co, p, stride)
      bn = nn.BatchNorm2d(co)
      self.parts[(i, name)] = (conv, bn)
      return [seq, bn, nn.LeakyReLU(0.2, inplace=True)]

    def scale(i, ci):
      deeper = (conv_bn_act(i, 'down1', ci, down[i], 3, 2) +
                conv_bn_act(i, 'down2', down[i], down[i], 3))
      if i < n - 1:
        deeper.append(scale(i + 1, down[i]))
        k = up[i + 1]
      else:
        k = down[i]
      deeper.append(nn.Upsample(scale_factor=2, mode='bilinear'))
      branch = nn.Sequential(*conv_bn_act(i, 'skip', ci, skip[i], 1))
      cat_bn = nn.BatchNorm2d(skip[i] + k)
      self.parts[('cat', i)] = cat_bn
      return nn.Sequential(
          Concat(branch, nn.Sequential(*deeper)), cat_bn,
          *conv_bn_act(i, 'up', skip[i] + k, up[i], 3),
          *conv_bn_act(i, 'up1x1', up[i], up[i], 1))

    body = scale(0, c_in)
    head_seq, self.head = _tconv(up[0], c_out, 1)
    self.net = nn.Sequential(body, head_seq, nn.Sigmoid())

  def forward(self, z):
    return self.net(z)

  def _items(self):
    for key, mod in self.parts.items():
      if key[0] == 'cat':
        yield f'scale_{key[1]}', 'cat_norm', None, mod
      else:
        yield f'scale_{key[0]}', key[1], mod[0], mod[1]

  def load_jax(self, params):
    with torch.no_grad():
      for s, name, conv, bn in self._items():
        p = params[s][name]
        if conv is not None:
          conv.weight.copy_(_w_to_torch(p['w']))
          conv.bias.copy_(_t(p['b']))
        bn.weight.copy_(_t(p['gamma']))
        bn.bias.copy_(_t(p['beta']))
      self.head.weight.copy_(_w_to_torch(params['head']['w']))
      self.head.bias.copy_(_t(params['head']['b']))

  def grads_as_jax(self, params):
    out = {}
    for s, name, conv, bn in self._items():
      g = {'gamma': bn.weight.grad.numpy(), 'beta': bn.bias.grad.numpy()}
      if conv is not None:
        g['w'] = _w_from_torch(conv.weight.grad, params[s][name]['w'].ndim)
        g['b'] = conv.bias.grad.numpy()
      out.setdefault(s, {})[name] = g
    out['head'] = {'w': _w_from_torch(self.head.weight.grad,
                                      params['head']['w'].ndim),
                   'b': self.head.bias.grad.numpy()}
    return out


def torch_model(c: Config, spec):
  if c.kind == 'dip':
    return TorchSkip(spec.input_channels, 3, spec.channels_down,
                     spec.channels_up, spec.channels_skip)
  return TorchPxP(spec.channels, 3, c.p)


def to_nchw(x):
  return _t(np.asarray(x).transpose(2, 0, 1)[None])


class TorchFit:
  """One fit as the authors' code runs it; `run()` -> seconds per step."""

  def __init__(self, c: Config, spec, params, z, y, steps_per_call):
    self.c, self.steps_per_call = c, steps_per_call
    self.net = torch_model(c, spec)
    self.net.load_jax(params)
    self.net.train()
    self.z, self.y = to_nchw(z), to_nchw(y)
    self.opt = torch.optim.Adam(self.net.parameters(), lr=0.01,
                                betas=(0.9, 0.999), eps=1e-8)
    self.best_loss, self.best = float('inf'), None
    if c.kind == 'dip':
      self.noise = torch.zeros_like(self.z)
      self.out_avg, self.psnr_last = None, -float('inf')
      self.last_net = [p.detach().clone() for p in self.net.parameters()]

  def step(self):
    self.opt.zero_grad()
    if self.c.kind == 'dd':  # The reference fit, with find_best.
      loss = nn.functional.mse_loss(self.net(self.z), self.y)
      loss.backward()
      self.opt.step()
      value = loss.item()
      if self.best_loss > 1.005 * value:
        self.best_loss = value
        self.best = [p.detach().clone() for p in self.net.parameters()]
      return
    # DIP's denoising closure.
    z = self.z + self.noise.normal_() * (1 / 30)
    out = self.net(z)
    self.out_avg = (out.detach() if self.out_avg is None else
                    self.out_avg * 0.99 + out.detach() * 0.01)
    loss = nn.functional.mse_loss(out, self.y)
    loss.backward()
    psnr = -10 * np.log10(loss.item())
    if psnr - self.psnr_last < -5:
      with torch.no_grad():
        for new, cur in zip(self.last_net, self.net.parameters()):
          cur.copy_(new)
    else:
      self.last_net = [p.detach().clone() for p in self.net.parameters()]
      self.psnr_last = psnr
    self.opt.step()

  def run(self) -> float:
    t0 = time.perf_counter()
    for _ in range(self.steps_per_call):
      self.step()
    return (time.perf_counter() - t0) / self.steps_per_call


class TorchMany:
  def __init__(self, fits):
    self.fits = fits

  def run(self) -> float:
    t0 = time.perf_counter()
    for _ in range(self.fits[0].steps_per_call):
      for f in self.fits:
        f.step()
    return (time.perf_counter() - t0) / self.fits[0].steps_per_call


# ---------------------------------------------------------------- checks
def check_equivalence(c: Config):
  """Max differences of output, loss, gradients on the same weights."""
  spec = make_spec(c)
  z = spec.init_input(jax.random.key(1))
  params = spec.init(jax.random.key(0), z)['params']
  y = jax.random.uniform(jax.random.key(2), (c.size, c.size, 3))
  loss_of = lambda p: losses.mse(spec.apply({'params': p}, z), y)
  out = jax.jit(lambda p: spec.apply({'params': p}, z))(params)
  loss, grads = jax.jit(jax.value_and_grad(loss_of))(params)
  net = torch_model(c, spec)
  net.load_jax(params)
  net.train()
  t_out = net(to_nchw(z))
  t_loss = nn.functional.mse_loss(t_out, to_nchw(y))
  t_loss.backward()
  d_out = np.abs(t_out.detach().numpy()[0].transpose(1, 2, 0) -
                 np.asarray(out)).max()
  d_loss = abs(t_loss.item() - float(loss)) / float(loss)
  g_t = jax.tree.leaves(net.grads_as_jax(params))
  g_j = jax.tree.leaves(jax.device_get(grads))
  assert len(g_t) == len(g_j)
  # Relative to each leaf's largest gradient, except leaves whose gradient
  # is zero in exact arithmetic (DIP's conv biases right before a
  # normalization: rounding noise, under 1e-3 of the largest gradient),
  # which are compared with the largest gradient of all.
  top = max(np.abs(b).max() for b in g_j)
  d_grad = d_zero = 0.0
  for a, b in zip(g_t, g_j):
    diff, scale = np.abs(a - b).max(), np.abs(b).max()
    if scale >= 1e-3 * top:
      d_grad = max(d_grad, diff / scale)
    else:
      d_zero = max(d_zero, diff / top)
  return d_out, d_loss, d_grad, d_zero


def make_pair(c: Config, steps_per_call: int, with_torch: bool):
  ours = Ours(c, steps_per_call)
  if not with_torch:
    return ours, None
  spec = ours.spec
  params = jax.device_get(ours.state.params)
  zs, ys = np.asarray(ours.batch['z']), np.asarray(ours.ys)
  fits = [TorchFit(c, spec, jax.tree.map(lambda a: a[i], params), zs[i],
                   ys[i], steps_per_call) for i in range(c.n)]
  theirs = fits[0] if c.n == 1 else TorchMany(fits)
  theirs.run()  # warm-up
  return ours, theirs


# --------------------------------------------------------------- roofline
def conv_costs(c: Config):
  """What one step's convs cost at config c, one image: a dict of

  direct_flops: the convs as direct convolutions (what torch runs): per conv
    of m output pixels 2 m p^2 Ci Co per pass, forward, dW and dX (not for
    the first conv, whose input is fixed);
  wino_flops: the same with our Winograd F(4, p) for the stride-1 p x p
    convs (n^2 / m^2 instead of p^2 multiplies per output, n = 4 + p - 1);
  act_bytes: every conv output written and read once forward and its
    gradient once backward (4 passes, float32), a floor for any algorithm;
  wino_bytes: the Winograd-domain arrays on top: V and M forward, dM, dV and
    the recomputed V backward, each written and read once;
  direct_gemm / wino_gemm: the largest conv's GEMM shape (m, k, n) for each
    (im2col; the batched [n^2, tiles, Ci] @ [Ci, Co] as (n^2 * tiles, Ci, Co)).
  """
  spec = make_spec(c)
  convs = []  # (m pixels, p, ci, co, first, stride)
  if c.kind == 'dip':
    sizes = spec.sizes
    for i, name, p, ci, co in spec.convs():
      if i is None:
        m = sizes[0][0] * sizes[0][1]
      else:
        hw = sizes[i + 1] if name in ('down1', 'down2') else sizes[i]
        m = hw[0] * hw[1]
      convs.append((m, p, ci, co, i == 0 and name in ('skip', 'down1'),
                    2 if name == 'down1' else 1))
  else:
    sizes = spec.sizes
    for i in range(spec.depth):
      hw = sizes[min(i, len(sizes) - 1)]
      convs.append((hw[0] * hw[1], c.p, spec.channels[i],
                    spec.channels[i + 1], i == 0, 1))
    convs.append((c.size * c.size, 1, spec.channels[-1], 3, False, 1))
  out = dict(direct_flops=0, wino_flops=0, act_bytes=0, wino_bytes=0)
  for m, p, ci, co, first, stride in convs:
    passes = 2 if first else 3
    direct = 2 * m * p * p * ci * co * passes
    out['direct_flops'] += direct
    out['act_bytes'] += 4 * 4 * m * co
    if stride == 1 and p in layers.WINOGRAD_TILE:
      t = layers.WINOGRAD_TILE[p]
      ratio = (t + p - 1) ** 2 / t ** 2
      out['wino_flops'] += direct * ratio / (p * p)
      out['wino_bytes'] += 4 * 2 * ratio * m * (3 * ci + 2 * co)
    else:
      out['wino_flops'] += direct
  m, p, ci, co, _, stride = max(convs, key=lambda t: t[0] * t[1] ** 2 *
                                t[2] * t[3])
  out['direct_gemm'] = (m, p * p * ci, co)
  t = layers.WINOGRAD_TILE.get(p, 1)
  out['wino_gemm'] = (int(m * (t + p - 1) ** 2 / t ** 2), ci, co)
  return out


def roofline(c: Config, t_ours, t_torch):
  """Prints the floors of config c against both times."""
  k = conv_costs(c)
  rate = lambda shape: step_time.gemm_rate(shape, stat=statistics.median)
  direct_rate, wino_rate = rate(k['direct_gemm']), rate(k['wino_gemm'])
  bw = step_time.copy_rate(stat=statistics.median)
  n = c.n
  direct_floor = n * max(k['direct_flops'] / direct_rate,
                         k['act_bytes'] / bw) / 1e9
  gemm_s = n * k['wino_flops'] / wino_rate / 1e9
  mem_s = n * (k['act_bytes'] + k['wino_bytes']) / bw / 1e9
  print(f'({c.name}) roofline: direct convs {n * k["direct_flops"] / 1e9:.1f} '
        f'GFLOP at {direct_rate:.0f} GFLOP/s (GEMM {k["direct_gemm"]}) -> '
        f'floor {direct_floor * 1e3:.0f} ms, torch/floor '
        f'{t_torch / direct_floor:.2f} | ours: {n * k["wino_flops"] / 1e9:.1f}'
        f' GFLOP at {wino_rate:.0f} GFLOP/s (GEMM {k["wino_gemm"]}) = '
        f'{gemm_s * 1e3:.0f} ms + {n * (k["act_bytes"] + k["wino_bytes"]) / 1e6:.0f}'
        f' MB at {bw:.1f} GB/s = {mem_s * 1e3:.0f} ms -> floor '
        f'{(gemm_s + mem_s) * 1e3:.0f} ms, ours/floor '
        f'{t_ours / (gemm_s + mem_s):.2f}', flush=True)


def _wait_for_idle(limit):
  """Sleeps until the 1-minute load average is under `limit` (0: never)."""
  while limit and os.getloadavg()[0] >= limit:
    time.sleep(15)


def main():
  args = ARGS
  with_torch = not args.no_torch and torch is not None
  if with_torch:
    torch.set_num_threads(args.threads)
    torch.set_num_interop_threads(1)
  print(f'jax {jax.__version__} {jax.devices()} | torch '
        f'{torch.__version__ if with_torch else "-"} | {os.cpu_count()} cores,'
        f' threads {args.threads} | load avg {os.getloadavg()[0]:.1f} | '
        f'XLA_FLAGS={os.environ.get("XLA_FLAGS", "")!r}', flush=True)
  rows = []
  for name in args.configs.split(','):
    c = CONFIGS[name]
    spc = args.steps_per_call or c.steps_per_call
    _wait_for_idle(args.wait_load)
    load0 = os.getloadavg()[0]
    if with_torch and c.n == 1:
      d_out, d_loss, d_grad, d_zero = check_equivalence(c)
      print(f'({name}) same weights: max|out diff| {d_out:.2e}, loss rel diff '
            f'{d_loss:.2e}, max grad rel diff {d_grad:.2e} (zero-gradient '
            f'leaves: {d_zero:.1e} of the largest gradient)', flush=True)
    ours, theirs = make_pair(c, spc, with_torch)
    a, t = [], []
    for _ in range(args.repeats):
      a.append(ours.run())
      if theirs is not None:
        t.append(theirs.run())
    t_ours = statistics.median(a)
    t_torch = statistics.median(t) if t else float('nan')
    rows.append((c, t_ours, t_torch, ours.first_call_s))
    print(f'({name}) ours {t_ours * 1e3:.1f} ms [{min(a) * 1e3:.0f}-'
          f'{max(a) * 1e3:.0f}] | torch {t_torch * 1e3:.1f} ms | ratio '
          f'{t_ours / t_torch:.3f} | load {load0:.1f} -> '
          f'{os.getloadavg()[0]:.1f}',
          flush=True)
    if args.roofline:
      roofline(c, t_ours, t_torch)
    del ours, theirs
  print(f'\nload avg at end {os.getloadavg()[0]:.1f}')
  print('| config | images | ours ms/step | torch ms/step | ours/torch | '
        'our compile+first call s |')
  print('|---|---|---|---|---|---|')
  for c, a, t, f in rows:
    label = (f'({c.name}) DIP skip {c.size}x{c.size}x3' if c.kind == 'dip'
             else f'({c.name}) {c.size}x{c.size}x3 k={c.k} d={c.depth} '
             f'p={c.p}')
    print(f'| {label} | {c.n} | {a * 1e3:.1f} | {t * 1e3:.1f} | {a / t:.3f} '
          f'| {f:.1f} |')


if __name__ == '__main__':
  main()
