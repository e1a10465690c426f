"""Result tables: CSV for tools, Markdown for READMEs.

    rows.append(mean_row(rows, 'image', 'mean', ['PSNR']))
    write_table(rows, workdir, 'table1', title='...')   # table1.csv, .md
"""

import csv
import io
import os

from absl import logging
import numpy as np


def _cell(v):
  if v is None or (isinstance(v, float) and np.isnan(v)):
    return ''
  if isinstance(v, float):
    return f'{v:.4f}' if abs(v) < 1 else f'{v:.2f}'
  return str(v)


def markdown_table(rows, columns) -> str:
  lines = ['| ' + ' | '.join(columns) + ' |',
           '|' + '|'.join('---' for _ in columns) + '|']
  for r in rows:
    lines.append('| ' + ' | '.join(_cell(r.get(c)) for c in columns) + ' |')
  return '\n'.join(lines) + '\n'


def write_table(rows, workdir: str, stem: str, columns=None, title: str = '',
                notes: str = '') -> str:
  """Writes `<stem>.csv` and `<stem>.md` (title, table, notes); returns the
  Markdown and logs it."""
  if columns is None:
    columns = []
    for r in rows:
      columns += [k for k in r if k not in columns]
  from dd_jax.io import writers  # Atomic: a table is never half-written.
  buf = io.StringIO(newline='')
  w = csv.DictWriter(buf, columns, extrasaction='ignore')
  w.writeheader()
  for r in rows:
    w.writerow({c: r.get(c, '') for c in columns})
  writers.write_text(os.path.join(workdir, f'{stem}.csv'), buf.getvalue())
  md = (f'## {title}\n\n' if title else '') + markdown_table(rows, columns)
  if notes:
    md += '\n' + notes.strip() + '\n'
  writers.write_text(os.path.join(workdir, f'{stem}.md'), md)
  logging.info('%s', md)
  return md


def mean_row(rows, label_key: str, label: str, keys) -> dict:
  """A 'mean' row over `rows` for the numeric `keys` (NaN/missing skipped)."""
  out = {label_key: label}
  for k in keys:
    vals = [r[k] for r in rows if isinstance(r.get(k), (int, float))
            and not np.isnan(r[k])]
    if vals:
      out[k] = float(np.mean(vals))
  return out
