"""Our fit step vs an independent PyTorch deep decoder, timed alternately.

    pip install -e .[bench]            # torch==2.13.0 (CPU build)
    PYTHONPATH=$PWD python benchmarks/compare_torch.py               # a,b,c,d,d8
    PYTHONPATH=$PWD python benchmarks/compare_torch.py --configs=c,d,d8 --repeats=5
    PYTHONPATH=$PWD python benchmarks/compare_torch.py --device=cuda  # torch on GPU
    LD_PRELOAD=/usr/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4 \
      PYTHONPATH=$PWD python benchmarks/compare_torch.py

The PyTorch model is written here from REFERENCE.md section 1 (not imported
from the authors' code): per hidden layer nn.Conv2d 1x1 without bias ->
nn.Upsample(x2, bilinear, align_corners=False) (not in the last hidden layer)
-> ReLU -> BatchNorm2d in train mode on a batch of one image; output 1x1 conv
+ sigmoid; one step = zero_grad, forward, MSE, backward, Adam(lr .01) step,
plus the best-iterate check (loss.item(), copy the weights when the loss
dropped by 0.5%), as the reference `fit` does.

1. Equivalence: our params are copied into the torch model; the outputs, the
   loss and every parameter gradient must agree (max abs difference printed).
2. Timing: for each config, our step (the fit engine's jitted chunk, as in
   step_time.py) and the torch step are called alternately A B A B ...; the
   table gives the median of each and ours / torch. `d8` is 8 images of
   config (d) in one vmapped call vs 8 sequential torch fits (8 steps).
3. Roofline for (a) and (b) (with --roofline): FLOPs and minimal bytes per
   step, matmul GFLOP/s and copy GB/s measured in this run, the floor they
   imply and our time over it.
Both libraries run in this one process with the same thread count.
"""

import argparse
import copy
import os
import statistics
import sys
import time

import numpy as np

from benchmarks import threads


def _parse(argv):
  p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
  threads.add_common_args(p, 'a,b,c,d,d8', 7)
  p.add_argument('--steps_per_call', type=int, default=10,
                 help='steps per timed call at >= 256 px, both libraries (ours: '
                 'one jit call running them in a fori_loop, as the engine does)')
  p.add_argument('--torch_best_copy', default=True,
                 action=argparse.BooleanOptionalAction,
                 help='torch keeps the best iterate (deepcopy of the state '
                 'when the loss improves by 0.5%%), as the reference fit and '
                 'our step do; --no-torch_best_copy times the bare Adam step')
  p.add_argument('--device', default='cpu',
                 help='torch device of the torch side (cpu, cuda, cuda:0); '
                 'ours runs on JAX\'s default device')
  return p.parse_args(argv)


ARGS = _parse(sys.argv[1:]) if __name__ == '__main__' else None
if ARGS is not None:
  threads.pin(ARGS.threads)  # before jax and torch are imported

import jax  # pylint: disable=g-import-not-at-top
import jax.numpy as jnp  # pylint: disable=g-import-not-at-top
import torch  # pylint: disable=g-import-not-at-top
from torch import nn  # pylint: disable=g-import-not-at-top

from benchmarks import step_time  # pylint: disable=g-import-not-at-top
from dd_jax.inverse import losses  # pylint: disable=g-import-not-at-top
from dd_jax import models  # pylint: disable=g-import-not-at-top


def _device() -> str:
  """The torch side's device (--device; 'cpu' when imported without ARGS)."""
  return getattr(ARGS, 'device', 'cpu')


def _sync():
  """Waits for queued CUDA work, so that a timer stops after it."""
  if _device().startswith('cuda'):
    torch.cuda.synchronize()


# --------------------------------------------------------------- the torch DD
class TorchDecoder(nn.Module):
  """The reference deep decoder (REFERENCE.md section 1), NCHW."""

  def __init__(self, channels, out_channels):
    super().__init__()
    d = len(channels) - 1
    mods = []
    for i in range(d):
      mods.append(nn.Conv2d(channels[i], channels[i + 1], 1, bias=False))
      if i != d - 1:
        mods.append(nn.Upsample(scale_factor=2, mode='bilinear',
                                align_corners=False))
      mods.append(nn.ReLU())
      mods.append(nn.BatchNorm2d(channels[i + 1]))  # train mode, batch of 1
    mods.append(nn.Conv2d(channels[-1], out_channels, 1, bias=False))
    mods.append(nn.Sigmoid())
    self.net = nn.Sequential(*mods)

  def forward(self, z):
    return self.net(z)

  def load_jax(self, params):
    """Copies our params collection (one image) into this module."""
    convs = [m for m in self.net if isinstance(m, nn.Conv2d)]
    norms = [m for m in self.net if isinstance(m, nn.BatchNorm2d)]
    with torch.no_grad():
      hidden = [params[f'layer_{i}'] for i in range(len(norms))]
      for layer, conv, bn in zip(hidden, convs, norms):
        conv.weight.copy_(torch.from_numpy(np.array(layer['w']).T[..., None, None]))
        bn.weight.copy_(torch.from_numpy(np.array(layer['gamma'])))
        bn.bias.copy_(torch.from_numpy(np.array(layer['beta'])))
      convs[-1].weight.copy_(torch.from_numpy(
          np.array(params['out']['w']).T[..., None, None]))

  def grads_as_jax(self):
    """Gradients in our pytree layout (numpy)."""
    convs = [m for m in self.net if isinstance(m, nn.Conv2d)]
    norms = [m for m in self.net if isinstance(m, nn.BatchNorm2d)]
    out = {f'layer_{i}': {'w': c.weight.grad[:, :, 0, 0].T.cpu().numpy(),
                          'gamma': b.weight.grad.cpu().numpy(),
                          'beta': b.bias.grad.cpu().numpy()}
           for i, (c, b) in enumerate(zip(convs, norms))}
    out['out'] = {'w': convs[-1].weight.grad[:, :, 0, 0].T.cpu().numpy()}
    return out


def to_nchw(x):
  return torch.from_numpy(np.ascontiguousarray(np.asarray(x).transpose(2, 0, 1)
                                               [None])).to(_device())


class TorchFit:
  """One reference-style fit: `run()` does steps_per_call Adam steps."""

  def __init__(self, spec, key, y, steps_per_call):
    params = spec.init(key, jnp.zeros(spec.input_shape))['params']
    self.net = TorchDecoder(spec.channels, spec.out_channels).to(_device())
    self.net.load_jax(params)
    self.net.train()
    self.z = to_nchw(spec.init_input(jax.random.fold_in(key, 1)))
    self.y = to_nchw(y)
    self.opt = torch.optim.Adam(self.net.parameters(), lr=0.01,
                                betas=(0.9, 0.999), eps=1e-8)
    self.best_loss, self.best = float('inf'), None
    self.steps_per_call = steps_per_call

  def step(self):
    self.opt.zero_grad()
    loss = nn.functional.mse_loss(self.net(self.z), self.y)
    loss.backward()
    self.opt.step()
    value = loss.item()
    if (getattr(ARGS, 'torch_best_copy', True)  # imported: as the reference
        and self.best_loss > 1.005 * value):
      self.best_loss = value
      self.best = copy.deepcopy(self.net.state_dict())

  def run(self) -> float:
    t0 = time.perf_counter()
    for _ in range(self.steps_per_call):
      self.step()
    _sync()
    return (time.perf_counter() - t0) / self.steps_per_call


class TorchMany:
  """N sequential torch fits, one step each per round."""

  def __init__(self, fits):
    self.fits = fits

  def run(self) -> float:
    t0 = time.perf_counter()
    for _ in range(self.fits[0].steps_per_call):
      for f in self.fits:
        f.step()
    _sync()
    return (time.perf_counter() - t0) / self.fits[0].steps_per_call


# ---------------------------------------------------------------- equivalence
def check_equivalence(b: step_time.Bench):
  """Max abs differences of output, loss and gradients, same weights."""
  spec = models.make_model(step_time.model_config(b), (b.size, b.size, 3))
  z = spec.init_input(jax.random.key(1))
  params = spec.init(jax.random.key(0), z)['params']
  y = jax.random.uniform(jax.random.key(2), (b.size, b.size, 3))
  loss_of = lambda p: losses.mse(spec.apply({'params': p}, z), y)
  out = jax.jit(lambda p: spec.apply({'params': p}, z))(params)
  loss, grads = jax.jit(jax.value_and_grad(loss_of))(params)

  net = TorchDecoder(spec.channels, spec.out_channels).to(_device())
  net.load_jax(params)
  net.train()
  t_out = net(to_nchw(z))
  t_loss = nn.functional.mse_loss(t_out, to_nchw(y))
  t_loss.backward()
  d_out = np.abs(t_out.detach().cpu().numpy()[0].transpose(1, 2, 0) -
                 np.asarray(out)).max()
  d_loss = abs(t_loss.item() - float(loss)) / float(loss)
  g_t = jax.tree.leaves(net.grads_as_jax())
  g_j = jax.tree.leaves(jax.device_get(grads))
  d_grad = max(np.abs(a - b_).max() / (np.abs(b_).max() + 1e-30)
               for a, b_ in zip(g_t, g_j))
  return d_out, d_loss, d_grad


# -------------------------------------------------------------------- timing
def make_pair(b: step_time.Bench):
  spc = step_time.steps_per_call_for(b)
  ours = step_time.Runner(b, spc)
  spec = ours.spec
  key = jax.random.key(0)
  ys = np.asarray(ours.batch['y'])
  fits = [TorchFit(spec, jax.random.fold_in(key, i), ys[i], spc)
          for i in range(b.n)]
  theirs = fits[0] if b.n == 1 else TorchMany(fits)
  theirs.run()  # warm-up
  return ours, theirs


def time_alternating(ours, theirs, repeats):
  a, t = [], []
  for _ in range(repeats):
    a.append(ours.run())
    t.append(theirs.run())
  return statistics.median(a), statistics.median(t)


# ------------------------------------------------------------------ roofline
def step_cost(b: step_time.Bench):
  """(FLOPs, minimal bytes) of one fit step at config `b`, one image.

  FLOPs: the 1x1 convs (2 m k_in k_out per pass at the conv's resolution;
  forward, dW and dX except dX of the first layer). Bytes: every hidden
  layer's full-size float32 activation written and read once in the forward
  and its gradient written and read once in the backward (4 passes), plus
  the image-size output/target. Elementwise work and the smaller stencil
  traffic are not counted, so this is a floor.
  """
  d, k, s = b.depth, b.k, b.size
  flops, act = 0, 0
  for i in range(d):
    conv_hw = (s >> (d - 1 - i)) ** 2
    out_hw = (s >> (d - 2 - i)) ** 2 if i < d - 1 else s * s
    flops += 2 * conv_hw * k * k * (2 if i == 0 else 3)
    act += out_hw * k
  flops += 2 * s * s * k * 3 * 3
  bytes_ = 4 * (4 * act + 4 * s * s * 3)
  return flops, bytes_


def measure_machine(repeats=5):
  """(GEMM GFLOP/s at the (a)/(b) layer shape, copy GB/s), in this process."""
  out = {f'gemm_k{k}': step_time.gemm_rate((512 * 512, k, k), repeats)
         for k in (64, 128)}
  out['copy_GBs'] = step_time.copy_rate(repeats)
  return out


def main():
  args = ARGS
  step_time.STEPS_PER_CALL = args.steps_per_call
  torch.set_num_threads(args.threads)
  torch.set_num_interop_threads(1)
  load = os.getloadavg()
  print(f'jax {jax.__version__} {jax.devices()} | torch {torch.__version__} '
        f'on {args.device} | '
        f'{os.cpu_count()} cores, affinity {sorted(os.sched_getaffinity(0))}, '
        f'torch threads {torch.get_num_threads()} | '
        f'XLA_FLAGS={os.environ.get("XLA_FLAGS", "")!r} | '
        f'load avg {load[0]:.1f} | '
        f'LD_PRELOAD={os.environ.get("LD_PRELOAD", "")!r}', flush=True)
  names = args.configs.split(',')
  rows = []
  for name in names:
    b = step_time.CONFIGS[name]
    if b.n == 1:
      d_out, d_loss, d_grad = check_equivalence(b)
      print(f'({name}) same weights: max|out diff| {d_out:.2e}, loss rel diff '
            f'{d_loss:.2e}, max grad rel diff {d_grad:.2e}', flush=True)
    ours, theirs = make_pair(b)
    t_ours, t_torch = time_alternating(ours, theirs, args.repeats)
    rows.append((b, t_ours, t_torch, ours.first_call_s))
    print(f'({name}) ours {t_ours * 1e3:.1f} ms | torch {t_torch * 1e3:.1f} ms '
          f'| ratio {t_ours / t_torch:.3f}', flush=True)
    if args.roofline and name in ('a', 'b'):
      flops, bytes_ = step_cost(b)
      m = measure_machine()
      gemm = m[f'gemm_k{b.k}']
      floor = max(flops / (gemm * 1e9), bytes_ / (m['copy_GBs'] * 1e9))
      print(f'({name}) roofline: {flops / 1e9:.2f} GFLOP, {bytes_ / 1e6:.0f} MB '
            f'| GEMM {gemm:.1f} GFLOP/s, copy {m["copy_GBs"]:.1f} GB/s | '
            f'floor {floor * 1e3:.1f} ms | ours/floor {t_ours / floor:.2f}',
            flush=True)
    del ours, theirs
  print(f'\nload avg at end {os.getloadavg()[0]:.1f}')
  print('| config | images | ours ms/step | torch ms/step | ours/torch | '
        'our compile+first call s |')
  print('|---|---|---|---|---|---|')
  for b, a, t, c in rows:
    label = (f'({b.name}) {b.size}x{b.size}x3 k={b.k} d={b.depth}')
    print(f'| {label} | {b.n} | {a * 1e3:.1f} | {t * 1e3:.1f} | '
          f'{a / t:.3f} | {c:.1f} |')


if __name__ == '__main__':
  main()
