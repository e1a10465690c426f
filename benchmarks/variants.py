"""Settings in one compiled call vs one call per setting (engine.fit_variants).

  PYTHONPATH=. python benchmarks/variants.py --lrs=0.005,0.01,0.02,0.04 \
    --images=astronaut,coffee --size=64 --k=32 --steps=300

Fits the images once per learning rate, first one `fit_images` call after
another (each compiles and runs its own fit), then all learning rates as
entries of ONE `fit_variants` call, and prints the wall times (compile
included: what a sweep waits for) and the largest PSNR difference between
the two. On a CPU the gain is the compilations saved; on an accelerator the
bigger batch also fills the device.
"""

import time

from absl import app
from absl import flags

from configs import denoise
from dd_jax.fitting import engine
from dd_jax.io import inputs

_LRS = flags.DEFINE_string('lrs', '0.005,0.01,0.02,0.04', 'Learning rates.')
_IMAGES = flags.DEFINE_string('images', 'astronaut,coffee', 'Images.')
_SIZE = flags.DEFINE_integer('size', 64, 'Image side.')
_K = flags.DEFINE_integer('k', 32, 'Decoder width.')
_STEPS = flags.DEFINE_integer('steps', 300, 'Fit steps.')


def configs():
  out = []
  for lr in (float(v) for v in _LRS.value.split(',')):
    c = denoise.get_config('cpu')
    c.data.images, c.data.size, c.data.channels = _IMAGES.value, _SIZE.value, 'rgb'
    c.model.k, c.model.depth = _K.value, 4
    c.fit.steps, c.fit.log_every = _STEPS.value, _STEPS.value
    c.optim.lr = lr
    out.append(c)
  return out


def main(argv):
  del argv
  cs = configs()
  names, clean = inputs.load_images(cs[0].data, 8)
  t = time.perf_counter()
  alone = [engine.fit_images(c, clean=clean, names=names, verbose=False)
           for c in cs]
  t_alone = time.perf_counter() - t
  t = time.perf_counter()
  grouped = engine.fit_variants(cs, clean=clean, names=names, verbose=False)
  t_grouped = time.perf_counter() - t
  diff = max(abs(a[i]['psnr'] - g[i]['psnr']) for a, g in zip(alone, grouped)
             for i in range(len(names)))
  print(f'{len(cs)} learning rates x {len(names)} images, '
        f'{_SIZE.value}x{_SIZE.value}, k={_K.value}, {_STEPS.value} steps')
  print(f'one call per setting: {t_alone:.1f} s; one call: {t_grouped:.1f} s '
        f'({t_alone / t_grouped:.2f}x); max |PSNR difference| {diff:.4f} dB')
  for c, g in zip(cs, grouped):
    print(f'  lr {c.optim.lr}: ' + ', '.join(
        f'{r["name"]} {r["psnr"]:.2f} dB' for r in g))


if __name__ == '__main__':
  app.run(main)
