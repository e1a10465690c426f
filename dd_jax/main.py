"""Command-line entry point: one config in, one run out.

  python -m dd_jax.main --config=configs/denoise.py:cpu --workdir=runs/dn
  dd-jax --config=configs/inpaint.py --config.fit.steps=500 --workdir=runs/ip

With no --config, the built-in default runs: `configs/denoise.py:cpu`,
denoising scikit-image's astronaut at 256x256 with sigma 25/255.
"""

import os
import sys

from absl import app
from absl import flags
from absl import logging
from ml_collections import config_flags

import configs
from dd_jax import run as run_lib
from dd_jax.fitting import interrupt
from dd_jax.io import progress
from dd_jax.errors import fail, flag_errors_exit, parse_flags, user_errors_exit

DEFAULT_CONFIG = os.path.join(os.path.dirname(configs.__file__),
                              'denoise.py') + ':cpu'

with flag_errors_exit():  # Overrides are read from sys.argv here.
  _CONFIG = config_flags.DEFINE_config_file(
      'config', DEFAULT_CONFIG, 'Config file and its arg, e.g. '
      'configs/denoise.py:cpu. Fields can be overridden: '
      '--config.fit.steps=500.', lock_config=True)
_WORKDIR = flags.DEFINE_string('workdir', 'workdir/default',
                               'Folder the run writes its results to.')
_COORDINATOR = flags.DEFINE_string(
    'coordinator', '', 'Multi-process run: host:port of process 0 (or env '
    'DD_JAX_COORDINATOR). Each process fits its share of the images.')
_NUM_PROCESSES = flags.DEFINE_integer('num_processes', 0,
                                      'Multi-process run: process count.')
_PROCESS_ID = flags.DEFINE_integer('process_id', -1,
                                   'Multi-process run: this process, 0-based.')


def main(argv):
  logging.set_verbosity(logging.WARNING)  # Other libraries' INFO lines.
  progress.log_to_terminal()  # dd_jax's INFO lines, plain, on stdout.
  if len(argv) > 1:
    fail(f'unexpected arguments {argv[1:]}; give settings as '
         '--config.<field>=<value>.')
  with user_errors_exit():
    from dd_jax.fitting import sharding
    sharding.initialize_distributed(_COORDINATOR.value, _NUM_PROCESSES.value,
                                    _PROCESS_ID.value)
    try:
      run_lib.run(_CONFIG.value, _WORKDIR.value)
    except interrupt.Interrupted as e:
      print(f'interrupted at step {e.step}: checkpoint and results so far in '
            f'{_WORKDIR.value}; continue with the same command and '
            '--config.output.resume=True', file=sys.stderr)
      sys.exit(e.exit_code)
    except KeyboardInterrupt:  # Before or after the fit: nothing half-done.
      print('interrupted outside the fit (Ctrl-C); see the workdir for what '
            'was written', file=sys.stderr)
      sys.exit(130)


# `dd-jax SUBCOMMAND ...` dispatches here; anything else is a fit run.
SUBCOMMANDS = {
    'compress': 'dd_jax.codec.cli',
    'decompress': 'dd_jax.codec.cli',
}


def cli():
  if len(sys.argv) > 1 and sys.argv[1] in SUBCOMMANDS:
    import importlib
    module = importlib.import_module(SUBCOMMANDS[sys.argv[1]])
    sys.exit(module.main(sys.argv[1:]))
  app.run(main, flags_parser=parse_flags)


if __name__ == '__main__':
  cli()
