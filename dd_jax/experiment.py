"""The launcher pieces of the paper experiments (experiments/<name>/run.py).

    def run(config, workdir):
      ex.prepare(workdir, config)     # validates, refuses a used workdir
      names, clean = inputs.load_images(config.data, multiple=16)
      result = engine.fit_images(config, clean=clean, names=names)
      tables.write_table(rows, workdir, 'table1')      # CSV + .md

    if __name__ == '__main__':
      ex.launch(run, 'experiments/<name>/config.py:cpu', 'runs/<name>')

Fitting is `dd_jax.fitting.engine.fit_images` (the fits of `dd_jax.run`);
inputs, tables and the progress bar live in `dd_jax.io`.
"""

import os
import shutil
import sys

from dd_jax.fitting import checkpoint
from dd_jax.fitting import interrupt
from dd_jax.io import workdir as workdir_lib

RUN_SECTIONS = ('model', 'operator', 'optim', 'fit', 'data')


def prepare(workdir: str, config, *, runs=None, resume: bool | None = None,
            **refusal):
  """Validates, then creates the workdir and writes config.json there.

  runs: the run configs the experiment fits, each checked first with
    `dd_jax.run.validate` (default: `config` itself when it has the run
    sections). Then the workdir is checked: one that holds a run is refused
    (UserError) unless `config.output.overwrite` or `resume`, one with other
    files unless `config.output.allow_other_files`.
  resume: continue the run held in `workdir` (its files are kept; the
    fits `launch` checkpointed are read back or resumed); default
    `config.output.resume`.
  refusal: `markers` / `other_way` of `io.workdir.check`.
  Returns the inputs of each validated run (`io.inputs.Inputs`).
  """
  from dd_jax import run as run_lib
  if runs is None:
    runs = [config] if all(s in config for s in RUN_SECTIONS) else []
  loaded = [run_lib.validate(c) for c in runs]
  output = config.get('output') or {}
  if resume is None:
    resume = bool(output.get('resume', False))
  plan = workdir_lib.check(
      workdir, overwrite=bool(output.get('overwrite', False)),
      allow_other_files=(bool(output['allow_other_files'])
                         if 'allow_other_files' in output else None),
      resume=resume, **refusal)
  if plan.resume:
    run_lib.check_resume(config, plan, checkpoint.Session(
        os.path.join(workdir, workdir_lib.CHECKPOINT), 0), finished_ok=True)
  workdir_lib.start(plan, run_lib.config_json(config))
  return loaded


def pyplot():
  import matplotlib
  matplotlib.use('Agg')
  import matplotlib.pyplot as plt
  return plt


def save_figure(fig, path: str, dpi: int | None = None) -> None:
  """Lays out `fig`, writes it to `path` atomically (as PNG unless the
  name says otherwise) and closes it."""
  import matplotlib.pyplot as plt
  from dd_jax.io import writers
  fig.tight_layout()
  fmt = os.path.splitext(path)[1].lstrip('.') or 'png'
  with writers.atomic_path(path) as tmp:
    fig.savefig(tmp, format=fmt, dpi=dpi)
  plt.close(fig)


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
    fresh = (not os.path.isdir(workdir) or not os.listdir(workdir))
    config = config_flag.value
    every_s = float((config.get('output') or {}).get('checkpoint_every_s',
                                                     300.0))
    ckpt_dir = os.path.join(workdir, workdir_lib.CHECKPOINT)
    with errors.user_errors_exit(
        lambda: _undo_prepare(workdir) if fresh else None):
      try:
        # Each fit_images call of the experiment checkpoints (call_<i>): a
        # resumed experiment reads finished fits back and resumes the rest.
        with interrupt.catching(), checkpoint.session(ckpt_dir, every_s):
          run_fn(config, workdir)
      except interrupt.Interrupted as e:
        if workdir_lib.read_marker(workdir) is not None:
          workdir_lib.finish(workdir, 'interrupted')
        print(f'interrupted at step {e.step}: checkpoints in {ckpt_dir}; '
              'continue with the same command and '
              '--config.output.resume=True', file=sys.stderr)
        sys.exit(e.exit_code)
    if workdir_lib.read_marker(workdir) is not None:
      workdir_lib.finish(workdir)
    shutil.rmtree(ckpt_dir, ignore_errors=True)  # finished: nothing to resume

  app.run(main, flags_parser=errors.parse_flags)


def _undo_prepare(workdir: str) -> None:
  """After a user error in a run that started in a fresh workdir and wrote
  nothing but its config.json and marker, removes them so the corrected
  command can reuse the workdir."""
  own = {workdir_lib.CONFIG, workdir_lib.MARKER}
  if os.path.isdir(workdir) and set(os.listdir(workdir)) <= own:
    for name in os.listdir(workdir):
      os.remove(os.path.join(workdir, name))
    os.rmdir(workdir)
