"""Thread settings shared by the side-by-side benchmarks; no jax import, so
they can be applied before jax and torch are imported.

    p = argparse.ArgumentParser(); threads.add_common_args(p, 'a,b', 7)
    args = p.parse_args(); threads.pin(args.threads)   # then import jax
"""

import os


def add_common_args(p, configs: str, repeats: int) -> None:
  """--configs, --repeats, --threads and --roofline."""
  p.add_argument('--configs', default=configs)
  p.add_argument('--repeats', type=int, default=repeats)
  p.add_argument('--threads', type=int, default=os.cpu_count())
  p.add_argument('--roofline', action='store_true')


def pin(threads: int) -> None:
  """XLA's CPU client sizes its intra-op pool from the visible cores (Eigen
  matmuls use it); torch gets the same count. One thread: single-threaded
  Eigen in XLA too."""
  os.environ.setdefault('OMP_NUM_THREADS', str(threads))
  if threads == 1:
    os.environ['XLA_FLAGS'] = (os.environ.get('XLA_FLAGS', '') +
                               ' --xla_cpu_multi_thread_eigen=false')
