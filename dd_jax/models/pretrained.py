"""Saved initial weights: write them, and start any fit from them.

    save_init(path, params, z, model_cfg=config.model, info={...})
    config.model.init_from = path       # then every fit of the config
    model = make_model(config.model, image_shape)   # is a `Pretrained`
    model.init(key, z)['params']        # the saved weights (key unused)
    model.init_input(key, y)            # the saved input (if one was saved)

A saved init is a folder: `arrays/` (an orbax checkpoint of {'params',
'input'}; input is absent when none was saved) and `init.json` (the model
section it was made for, the shapes, and how it was made). Loading checks
the saved weights against the model the config builds, leaf by leaf, and
names the first difference (a UserError, before any workdir is made).

`experiments/learned_init` makes one by meta-learning (dd_jax.fitting.meta).
"""

import dataclasses
import json
import os
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from dd_jax.errors import UserError

ARRAYS = 'arrays'
META = 'init.json'


def save_init(path: str, params, z=None, *, model_cfg=None,
              info: dict | None = None) -> str:
  """Writes the weights `params` (and input `z`) as a saved init at `path`
  (a new folder: an existing one is refused); returns `path`."""
  import orbax.checkpoint as ocp
  if os.path.exists(path):
    raise UserError(f'{path} already exists; a saved init is never '
                    'overwritten: choose another path or remove it.')
  arrays = {'params': jax.tree.map(np.asarray, params)}
  if z is not None:
    arrays['input'] = np.asarray(z)
  tmp = f'{path}.partial{os.getpid()}'
  os.makedirs(tmp)
  with ocp.StandardCheckpointer() as ckptr:
    ckptr.save(os.path.join(os.path.abspath(tmp), ARRAYS), arrays)
    ckptr.wait_until_finished()
  shapes = jax.tree.map(lambda a: list(np.shape(a)), arrays)
  meta = dict(model=_plain(model_cfg), shapes=shapes, info=info or {})
  with open(os.path.join(tmp, META), 'w') as f:
    json.dump(meta, f, indent=1)
  os.replace(tmp, path)  # Whole or not at all.
  return path


@dataclasses.dataclass(frozen=True)
class SavedInit:
  """A loaded saved init: params (numpy pytree), z (or None), meta."""
  path: str
  params: Any
  z: np.ndarray | None
  meta: dict


_CACHE: dict = {}


def load_init(path: str) -> SavedInit:
  """The saved init at `path` (read once per path and modification time)."""
  meta_path = os.path.join(path, META)
  if not os.path.isfile(meta_path):
    raise UserError(f'model.init_from={path!r} is not a saved init (no '
                    f'{META} there); give the folder a learned-init run '
                    'wrote (experiments/learned_init: <workdir>/init).')
  key = (os.path.abspath(path), os.path.getmtime(meta_path))
  if key not in _CACHE:
    import orbax.checkpoint as ocp
    with open(meta_path) as f:
      meta = json.load(f)
    with ocp.StandardCheckpointer() as ckptr:
      arrays = ckptr.restore(os.path.join(os.path.abspath(path), ARRAYS))
    arrays = jax.tree.map(np.asarray, arrays)
    _CACHE[key] = SavedInit(path, arrays['params'], arrays.get('input'),
                            meta)
  return _CACHE[key]


@dataclasses.dataclass(frozen=True, eq=False)
class Pretrained:
  """`module` (a Flax model) started from saved weights (and input).

  Everything but `init` and `init_input` is the module's own: apply,
  describe, num_params, input_shape, ... Every image and ensemble member
  starts from the same weights; the key still draws the jitter noise.
  """
  module: Any
  saved: SavedInit

  def init(self, key, z):
    del key, z
    return {'params': jax.tree.map(jnp.asarray, self.saved.params)}

  def init_input(self, key, y=None):
    if self.saved.z is None:
      return self.module.init_input(key, y)
    return jnp.asarray(self.saved.z)

  def apply(self, variables, *args, **kwargs):
    return self.module.apply(variables, *args, **kwargs)

  def describe(self) -> str:
    return f'{self.module.describe()}, init from {self.saved.path}'

  def __getattr__(self, name):
    if name in ('module', 'saved'):  # Not set yet (copying, unpickling).
      raise AttributeError(name)
    return getattr(self.module, name)


def pretrained(module, path: str) -> Pretrained:
  """`module` started from the saved init at `path`, checked against it."""
  saved = load_init(path)
  z_like = jax.ShapeDtypeStruct(tuple(module.input_shape), jnp.float32)
  expected = jax.eval_shape(module.init, jax.random.key(0), z_like)['params']
  _check_tree(expected, saved.params, path, saved.meta.get('model'))
  if saved.z is not None and tuple(saved.z.shape) != tuple(z_like.shape):
    raise UserError(
        f'model.init_from={path!r} holds an input of shape '
        f'{list(saved.z.shape)}, this model and image size need '
        f'{list(z_like.shape)}; fit images of the size it was learned at '
        f'({_size_hint(saved.meta)}).')
  return Pretrained(module, saved)


def _check_tree(expected, got, path, model_cfg):
  flat_e = dict(_flat(expected))
  flat_g = dict(_flat(got))
  hint = (f' It was made for model {_describe_cfg(model_cfg)}; use the same '
          'model settings.' if model_cfg else '')
  missing = sorted(set(flat_e) - set(flat_g))
  extra = sorted(set(flat_g) - set(flat_e))
  if missing or extra:
    raise UserError(f'model.init_from={path!r} does not fit this model: '
                    f'weights {missing[:3]} missing, {extra[:3]} not in the '
                    f'model.{hint}')
  for name, e in flat_e.items():
    if tuple(e.shape) != tuple(np.shape(flat_g[name])):
      raise UserError(f'model.init_from={path!r} does not fit this model: '
                      f'{name} is {list(np.shape(flat_g[name]))} there, '
                      f'{list(e.shape)} here.{hint}')


def _flat(tree):
  return [('/'.join(str(getattr(k, 'key', k)) for k in p), v)
          for p, v in jax.tree_util.tree_flatten_with_path(tree)[0]]


def _plain(cfg):
  if cfg is None:
    return None
  return json.loads(cfg.to_json()) if hasattr(cfg, 'to_json') else dict(cfg)


def _describe_cfg(cfg) -> str:
  keys = ('name', 'k', 'depth', 'channels', 'conv_size', 'upsample')
  return ', '.join(f'{k}={cfg[k]}' for k in keys if k in cfg)


def _size_hint(meta) -> str:
  shape = (meta.get('info') or {}).get('image_shape')
  return f'{shape[0]}x{shape[1]}' if shape else 'see its init.json'
