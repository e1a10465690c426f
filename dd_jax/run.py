"""One run from a config: load, fit (the engine), write the workdir.

`run(config, workdir)` is the single library call behind `dd_jax.main`. The
fitting, with its grouping by shape, keys, measurement, stopping and
sharding, is `dd_jax.fitting.engine.fit_images`; this module only loads the
inputs and writes. Files written to the workdir:

  config.json, metrics.jsonl (one JSON object per log step and group),
  <name>_clean.png / _corrupted.png / _restored.png per image,
  psnr.png (PSNR or loss vs step), summary.json and summary.txt.
"""

import json
import os
import shutil
import tempfile

import jax

from dd_jax.fitting import engine
from dd_jax.io import inputs
from dd_jax.io import workdir as workdir_lib
from dd_jax.io import writers


def run(config, workdir: str) -> dict:
  """Runs the experiment `config` and writes its results into `workdir`."""
  if jax.process_index() > 0:  # Process 0 writes the merged results.
    workdir = tempfile.mkdtemp(prefix=f'dd_jax_process{jax.process_index()}_')
  workdir_lib.prepare_workdir(workdir,
                              bool(config.output.get('overwrite', False)))
  names, clean, given = inputs.load_inputs(config)
  with open(os.path.join(workdir, workdir_lib.RUN_MARKER), 'w') as f:
    f.write(config.to_json(indent=2))
  metrics_path = os.path.join(workdir, 'metrics.jsonl')
  open(metrics_path, 'w').close()

  def log(record):
    with open(metrics_path, 'a') as f:
      f.write(json.dumps(record) + '\n')

  result = engine.fit_images(config, clean=clean, measurements=given,
                             names=names, callback=log)
  summary = {'images': {}, 'groups': [
      {'shape': g['shape'], 'images': len(g['images']),
       'seconds': g['seconds'], 'num_params': g['num_params'],
       'devices': g['devices'], 'sharded': g['sharded']}
      for g in result.groups]}
  histories = {}
  for image in result:
    summary['images'][image['name']] = writers.write_image_outputs(
        workdir, image)
    steps, psnr, _ = image['history']
    histories[image['name']] = (steps, psnr if psnr is not None else
                                image['history_loss'])
  summary['seconds'] = result.seconds
  writers.finish(workdir, summary, histories, has_clean=clean is not None)
  if jax.process_index() > 0:
    shutil.rmtree(workdir, ignore_errors=True)
  return summary
