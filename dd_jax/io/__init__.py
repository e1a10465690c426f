"""Reading and writing: images and measurements in, PNG/JSON/CSV/plots out.

  images.py    load / validate / resize / save one image; unique_names
  png.py       8/16-bit PNG read/write (Pillow reads/writes no 16-bit colour
               PNG)
  inputs.py    a run's inputs from config.data (load_inputs, load_images,
               load_stack; pair_sources: measurements with references)
  workdir.py   check / start / finish, MARKER: a run never mixes with another
  writers.py   what dd_jax.run writes (PNGs, summary.json / .txt, psnr.png)
  tables.py    CSV + Markdown result tables (write_table, mean_row)
  progress.py  terminal output: log_to_terminal, the experiments' Progress
"""
