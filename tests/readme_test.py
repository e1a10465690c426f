"""The Python examples in README.md's "Library use" section run as written."""

import re

from tests.conftest import REPO


def library_examples() -> str:
  text = open(f'{REPO}/README.md').read()
  section = text.split('## Library use', 1)[1].split('\n## ', 1)[0]
  return '\n'.join(re.findall(r'```python\n(.*?)```', section, re.S))


def test_library_examples_run(capsys):
  code = library_examples()
  assert 'fit_images' in code and 'GainDecoder' in code
  scope = {'__name__': 'readme_example'}
  exec(compile(code, 'README.md', 'exec'), scope)  # pylint: disable=exec-used
  assert len(scope['fits']) == 2
  gains = [float(r['params']['gain']) for r in scope['fits']]
  assert all(g != 1.0 for g in gains)
  assert 'layer_0' in capsys.readouterr().out
