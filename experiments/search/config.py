"""Random hyperparameter search (the evaluation follow-up, sec. 4.6):
`trials` configs sampled from a search space over any config fields, each
run as one `dd_jax.run.run`, ranked by `metric`.

  python -m experiments.search.run --config=experiments/search/config.py:cpu \
    --workdir=runs/search_cpu
  python -m dd_jax.main --config=runs/search_cpu/best_config.py \
    --workdir=runs/search_cpu_best

`base` is any task config (default: denoising, sigma 25). `space` maps a
dotted config field to how its value is drawn:
  {'choice': [a, b, ...]}          one of the values, uniformly
  {'uniform': [lo, hi]}            uniform in [lo, hi)
  {'log_uniform': [lo, hi]}        10^U(log10 lo, log10 hi), 0 < lo
  ... 'int': True                  (ranges) whole numbers in [lo, hi]
Give your own with --config.space='{"optim.lr": {"log_uniform": [1e-3,
0.1]}}' (JSON or a Python literal). Trial i draws each field from its own
stream (seed, i, field), so more trials keep the earlier ones and a field
added to the space keeps the others' values. `metric` ('mean PSNR' or
'mean SSIM', higher is better) ranks the trials. Every trial's config is
checked before the first one runs; an interrupted search continues with
--config.output.resume=True (finished trials are kept).

Presets: full (the follow-up's final search: 100 trials of 1000 steps,
512x512), cpu (10 trials at 64x64, 300 steps; 8.5 min on 2 busy cores),
test (2 trials, 16x16, 4 steps).
"""

import ml_collections

from configs import denoise

# The follow-up's final search (sec. 4.6): k in {128, 196}, L in {3..6},
# input noise 10^U(-10, -1), activation, random or downsampled-image input.
SPACE = {
    'model.k': {'choice': [128, 196]},
    'model.depth': {'choice': [3, 4, 5, 6]},
    'fit.jitter_std': {'log_uniform': [1e-10, 1e-1]},
    'model.activation': {'choice': ['relu', 'relu6', 'sigmoid',
                                    'leaky_relu']},
    'model.input_kind': {'choice': ['uniform', 'image']},
}
# Smaller k and L for the cpu preset's 64x64 images (from the follow-up's
# initial choices, k in {16, ..., 196} and L in {2, ..., 7}).
CPU_SPACE = dict(SPACE, **{'model.k': {'choice': [16, 32, 64]},
                           'model.depth': {'choice': [3, 4, 5]}})
TEST_SPACE = dict(SPACE, **{'model.k': {'choice': [4, 8]},
                            'model.depth': {'choice': [2, 3]}})


def get_config(arg=None):
  preset = (arg or 'cpu').split(',')[0]
  # convert_dict=False: the space stays a plain dict (a ConfigDict would
  # refuse its dotted keys); the sections are ConfigDicts themselves.
  c = ml_collections.ConfigDict(convert_dict=False)
  c.base = denoise.get_config('test' if preset == 'test' else preset)
  c.base.data.images = 'astronaut,coffee,chelsea'
  c.base.model.leaky_slope = 0.1  # The follow-up's LeakyReLU(0.1).
  space, c.trials = SPACE, 100
  if preset == 'full':
    c.base.fit.steps, c.base.fit.log_every = 1000, 100  # sec. 4.6's trials
  elif preset == 'cpu':
    space, c.trials = CPU_SPACE, 10
    c.base.data.size, c.base.fit.steps, c.base.fit.log_every = 64, 300, 100
  else:
    space, c.trials = TEST_SPACE, 2
    c.base.data.images, c.base.data.size = 'astronaut', 16
    c.base.fit.steps, c.base.fit.log_every = 4, 2
  # Any value type, so that the command line can give a whole dict (text).
  c.space = ml_collections.FieldReference(
      {k: dict(v) for k, v in space.items()}, field_type=object)
  c.seed = 0      # of the sampling; base.seed seeds each trial's fit
  c.metric = 'mean PSNR'
  # Trials that differ only in seed, optim.lr, fit.jitter_std or
  # operator.noise.sigma fit as ONE compiled call (engine.fit_variants).
  c.one_call = True
  c.output = ml_collections.ConfigDict(
      {'overwrite': False, 'allow_other_files': False, 'resume': False})
  return c
