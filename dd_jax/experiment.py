"""The launcher pieces of the paper experiments (experiments/<name>/run.py).

    def run(config, workdir):
      ex.prepare(workdir, config)                     # refuses a used workdir
      names, clean = inputs.load_images(config.data, multiple=16)
      result = engine.fit_images(config, clean=clean, names=names)
      tables.write_table(rows, workdir, 'table1')      # CSV + .md

    if __name__ == '__main__':
      ex.launch(run, 'experiments/<name>/config.py:cpu', 'runs/<name>')

Fitting is `dd_jax.fitting.engine.fit_images` (the fits of `dd_jax.run`);
inputs, tables and the progress bar live in `dd_jax.io`.
"""

import os

from dd_jax.io import workdir as workdir_lib


def prepare(workdir: str, config, **refusal) -> None:
  """Creates the workdir and writes config.json there; refuses (UserError) a
  workdir that already holds a run unless `config.output.overwrite`.
  `refusal`: `markers` / `other_way` of `io.workdir.prepare_workdir`."""
  output = config.get('output') or {}
  workdir_lib.prepare_workdir(workdir, bool(output.get('overwrite', False)),
                              **refusal)
  with open(os.path.join(workdir, 'config.json'), 'w') as f:
    f.write(config.to_json(indent=2))


def pyplot():
  import matplotlib
  matplotlib.use('Agg')
  import matplotlib.pyplot as plt
  return plt


def launch(run_fn, config: str, workdir: str):
  """The absl entry point of an experiment: `run_fn(config, workdir)` from
  `--config` (default `config`, a config file with its argument) and
  `--workdir` (default `workdir`), with a user error printed as one line
  (exit 2) instead of a traceback; INFO log lines go to the terminal.

  The flags are defined here, when the module runs as a script, so importing
  several experiments' run modules (tests, notebooks) defines no flag twice.
  """
  from absl import app
  from absl import flags
  from ml_collections import config_flags
  from dd_jax import errors
  from dd_jax.io import progress

  with errors.flag_errors_exit():  # Overrides are read from sys.argv here.
    config_flag = config_flags.DEFINE_config_file(
        'config', config, 'Experiment config file, with its argument after a '
        "colon (a preset: 'cpu', 'full' or 'test').", lock_config=False)
  workdir_flag = flags.DEFINE_string('workdir', workdir, 'Output folder.')

  def main(argv):
    progress.log_to_terminal()
    if len(argv) > 1:
      errors.fail(f'unexpected arguments {argv[1:]}; give settings as '
                  '--config.<field>=<value>.')
    workdir = workdir_flag.value
    fresh = not os.path.exists(workdir) or not os.listdir(workdir)
    with errors.user_errors_exit(
        lambda: _undo_prepare(workdir) if fresh else None):
      run_fn(config_flag.value, workdir)

  app.run(main, flags_parser=errors.parse_flags)


def _undo_prepare(workdir: str) -> None:
  """After a user error in a run that started in a fresh workdir and wrote
  nothing but config.json, removes it so the corrected command can reuse the
  workdir."""
  if os.path.isdir(workdir) and os.listdir(workdir) == ['config.json']:
    os.remove(os.path.join(workdir, 'config.json'))
    os.rmdir(workdir)
