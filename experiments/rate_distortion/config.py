"""Rate-distortion of the deep-decoder codec (dd_jax/codec/compress.py) vs JPEG,
WebP, JPEG2000 and a keep-N wavelet codec, in real file bytes.

  python -m experiments.rate_distortion.run \
    --config=experiments/rate_distortion/config.py:cpu --workdir=runs/rd_cpu

Args: preset (full/cpu/test) and size (0: the preset's own). The runs in
README.md are the (preset, size) pairs of RUNS:
  cpu           128x128, astronaut + coffee, k 8/16/32   (label 'cpu')
  cpu,size=256  256x256, astronaut, k 16/32             (label 'cpu256')
  full          512x512, five images, k 32/64/128       (label 'full')
  test          32x32, astronaut, k 4, a few steps      (label 'test')

Fields read: seed, data.images (comma list; 'shared:<file>' = the authors'
image, skipped when absent), data.size, fit.steps, ks, bits (the bit depths
encoded per k), qat_steps (0: no quantization-aware fine-tuning), label,
resume, summarize_only, redo_baselines, output.overwrite. The codec fits with
its own model and optimizer (compress.codec_spec, compress.fit_image), so
the other model/optim/fit fields of the base config are not used.
"""

from configs import common
from dd_jax.errors import UserError

# (preset, size) -> settings. Keep these fixed: README.md's numbers come
# from them.
RUNS = {
    # 3026 s on 2 busy cores (README.md).
    ('cpu', 128): dict(label='cpu', images='astronaut,coffee', ks=(8, 16, 32),
                       steps=1000, bits=(3, 4, 5, 6, 8), qat_steps=150),
    # The paper's regime is larger images; 2331 s on 2 busy cores.
    ('cpu', 256): dict(label='cpu256', images='astronaut', ks=(16, 32),
                       steps=800, bits=(4, 5, 6, 8), qat_steps=150),
    # Hours: 512x512 like the paper; shared images when present.
    ('full', 512): dict(
        label='full', images='shared:astronaut.png,shared:sf4_rgb.png,'
        'shared:mri.png,coffee,camera', ks=(32, 64, 128), steps=5000,
        bits=(3, 4, 5, 6, 7, 8), qat_steps=500),
    # Seconds: the end-to-end test.
    ('test', 32): dict(label='test', images='astronaut', ks=(4,), steps=10,
                       bits=(4,), qat_steps=2),
}
DEFAULT_SIZE = {'cpu': 128, 'full': 512, 'test': 32}


def settings_for(preset: str, size: int = 0) -> dict:
  """The RUNS entry of `preset` at `size` (0: the preset's default size)."""
  key = (preset, size or DEFAULT_SIZE[preset])
  if key not in RUNS:
    known = ', '.join(f'{p},size={s}' for p, s in RUNS)
    raise UserError(f'No rate-distortion run {key[0]!r} at size {key[1]}; '
                    f'known: {known}. Other sizes: --config.data.size=N.')
  return dict(RUNS[key], size=key[1])


def get_config(arg=None):
  a = common.parse_arg(arg, size=0)
  s = settings_for(a.preset, a.size)
  c = common.base_config(a.preset)
  c.data.images, c.data.size = s['images'], s['size']
  c.fit.steps = s['steps']
  c.ks, c.bits, c.qat_steps = s['ks'], s['bits'], s['qat_steps']
  c.label = s['label']           # names the settings in results / summary
  c.resume = False               # continue a run in its workdir
  c.summarize_only = False       # only re-render summary.md and plots
  c.redo_baselines = False       # recompute JPEG/WebP/J2K/wavelet points
  return c
