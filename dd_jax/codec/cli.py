"""`dd-jax compress` / `dd-jax decompress`: the deep-decoder codec on files.

  dd-jax compress photo.png photo.ddz --bpp 0.5
  dd-jax compress photo.png photo.ddz --k 64 --bits 8
  dd-jax compress photo.png photo.ddz --k 64 --quality 30   # >= 30 dB
  dd-jax decompress photo.ddz restored.png
  dd-jax decompress photo.ddz --info

`main(argv)` takes argv[0] = the subcommand and returns the exit code.
Outputs are written to a temporary file and moved into place, so a failed
or interrupted run never leaves a partial file; an existing output is kept
unless --force is given.
"""

import argparse
import os
import sys
import tempfile
import time


from dd_jax.errors import UserError

LOSSLESS_EXT = ('.png', '.tif', '.tiff', '.bmp')


def _say(msg: str, quiet: bool = False):
  if not quiet:
    print(f'[codec] {msg}', flush=True)


def _check_output(path: str, force: bool):
  if os.path.isdir(path):
    raise UserError(f'Output {path!r} is a folder; give a file name.')
  if os.path.exists(path) and not force:
    raise UserError(f'{path!r} exists; pass --force to overwrite it.')
  folder = os.path.dirname(os.path.abspath(path))
  if not os.path.isdir(folder):
    raise UserError(f'Output folder {folder!r} does not exist.')


def _atomic_write(path: str, write_fn):
  """Calls write_fn(tmp_path) then renames tmp_path to path."""
  folder = os.path.dirname(os.path.abspath(path))
  fd, tmp = tempfile.mkstemp(dir=folder, prefix='.tmp_',
                             suffix=os.path.splitext(path)[1])
  os.close(fd)
  try:
    write_fn(tmp)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)
    os.replace(tmp, path)
  finally:
    if os.path.exists(tmp):
      os.remove(tmp)


def _write_bytes(path: str, data: bytes):
  def write(tmp):
    with open(tmp, 'wb') as f:
      f.write(data)
  _atomic_write(path, write)


# ------------------------------------------------------------------ compress
def _parser_compress():
  p = argparse.ArgumentParser(
      prog='dd-jax compress',
      description='Fit a deep decoder to an image and store its quantized, '
      'entropy-coded weights as a .ddz file.')
  p.add_argument('image', help='Image file, or a scikit-image name '
                 '(astronaut, camera, ...).')
  p.add_argument('output', help='The .ddz file to write.')
  rate = p.add_mutually_exclusive_group()
  rate.add_argument('--bpp', type=float, default=None,
                    help='Target bits per pixel (file bytes * 8 / (H W)); '
                    'chooses k and bits. Default 0.5 when no --k/--quality.')
  rate.add_argument('--quality', type=float, default=None, metavar='DB',
                    help='Target PSNR in dB: the smallest bit depth whose '
                    'decoded PSNR reaches it (with --k or the default k).')
  p.add_argument('--k', type=int, default=None, help='Channels per layer.')
  p.add_argument('--depth', type=int, default=0,
                 help='Hidden layers d (0: 6, fewer for small images).')
  p.add_argument('--bits', type=float, default=None,
                 help='Quantization bits per weight (mean bits with '
                 '--alloc sensitivity). Default: searched for --bpp/--quality,'
                 ' 8 with only --k.')
  p.add_argument('--alloc', choices=('uniform', 'sensitivity'),
                 default='sensitivity',
                 help='Per-layer bit allocation: the same depth everywhere, '
                 'or more bits for layers whose perturbation hurts more.')
  p.add_argument('--steps', type=int, default=2000, help='Fit steps.')
  p.add_argument('--lr', type=float, default=0.01, help='Adam learning rate.')
  p.add_argument('--qat-steps', type=int, default=200,
                 help='Quantization-aware fine-tuning steps after the fit '
                 '(straight-through; kept only if it decodes better).')
  p.add_argument('--coder', default='auto',
                 help='Entropy coder: auto (smallest), raw, zlib, lzma, arith.')
  p.add_argument('--channels', default='auto',
                 help='auto, gray, rgb or rgba.')
  p.add_argument('--seed', type=int, default=0,
                 help='Seed of the decoder input and init (stored).')
  p.add_argument('--force', action='store_true',
                 help='Overwrite an existing output.')
  p.add_argument('--quiet', action='store_true')
  return p


def _bits_for(args, params, spec, z, mean_bits, sens_cache):
  from dd_jax.codec import compress as C
  n = C.num_tensors(spec)
  if args.alloc == 'uniform' or mean_bits >= 12:
    return [int(round(mean_bits))] * n
  if 'sens' not in sens_cache:
    sens_cache['sens'] = C.sensitivities(params, spec, z)
  return C.allocate_bits(params, spec, sens_cache['sens'], mean_bits)


def _candidates(args, params, spec, z, image):
  """(bytes, psnr, bits, data) for each bit depth tried, smallest first."""
  from dd_jax.codec import compress as C
  from dd_jax.evaluation import metrics
  hw = image.shape[:2]
  render = C.make_render(spec, tuple(hw))
  depths = [args.bits] if args.bits else list(range(2, 13))
  cache, out = {}, []
  for b in depths:
    bits = _bits_for(args, params, spec, z, b, cache)
    data = C.encode(params, spec, seed=args.seed, bits=bits, image_hw=hw,
                    coder=args.coder)
    deq, _, _ = C.quantize_params(params, spec, bits)
    psnr = float(metrics.psnr(render(deq, z), image))
    out.append((len(data), psnr, bits, data))
  return out


def _finetune(args, params, spec, image, bits, data):
  """QAT at `bits`; keeps the tuned weights only if they decode better."""
  from dd_jax.codec import compress as C
  from dd_jax.evaluation import metrics
  if args.qat_steps <= 0:
    return data
  tuned = C.finetune_quantized(params, spec, image, bits, seed=args.seed,
                               steps=args.qat_steps, lr=args.lr / 10)
  new = C.encode(tuned, spec, seed=args.seed, bits=bits,
                 image_hw=image.shape[:2], coder=args.coder)
  before = float(metrics.psnr(C.decode(data), image))
  after = float(metrics.psnr(C.decode(new), image))
  _say(f'quantization-aware tuning: {before:.2f} -> {after:.2f} dB',
       args.quiet)
  if after > before and (args.bpp is None or len(new) * 8 <=
                         args.bpp * image.shape[0] * image.shape[1]):
    return new
  return data


def compress(args) -> int:
  from dd_jax.codec import compress as C
  from dd_jax.io import images as data_lib
  from dd_jax.evaluation import metrics
  if args.bpp is None and args.quality is None and args.k is None:
    args.bpp = 0.5
  if args.bpp is None and args.quality is None and args.bits is None:
    args.bits = 8
  for name in ('bpp', 'quality', 'bits'):
    v = getattr(args, name)
    if v is not None and not v > 0:
      raise UserError(f'--{name} must be positive, got {v}.')
  if args.steps < 1:
    raise UserError('--steps must be at least 1.')
  if args.coder != 'auto':
    from dd_jax.codec import entropy
    entropy.get_coder(args.coder)
  _check_output(args.output, args.force)
  t0 = time.time()
  image = data_lib.load_image(args.image, args.channels)
  image, _ = data_lib.split_alpha(image, 'drop', args.image)  # colours only
  h, w, c = image.shape
  depth = args.depth or C.auto_depth((h, w))
  pixels = h * w
  if args.k is not None:
    k = args.k
  elif args.bpp is not None:
    header = 40 + 5 * (3 * depth + 1)
    est_bits = 0.95 * args.bits if args.bits else 6.0
    k = C.k_for_params((args.bpp * pixels / 8 - header) * 8 / est_bits, depth,
                       c)
  else:
    k = 64 if min(h, w) >= 256 else 32
  chosen = None
  for attempt in range(3):
    spec = C.codec_spec(image.shape, k, depth)
    _say(f'{args.image}: {h}x{w}x{c}, fitting k={k} d={depth} '
         f'({spec.num_params():,} weights), {args.steps} steps',
         args.quiet)
    params = C.fit_image(image, spec, seed=args.seed, steps=args.steps,
                         lr=args.lr, log_every=max(args.steps // 5, 1),
                         verbose=not args.quiet)
    z = C.input_for_seed(args.seed, spec)
    cands = _candidates(args, params, spec, z, image)
    if args.bpp is not None:
      budget = args.bpp * pixels / 8
      fits = [cd for cd in cands if cd[0] <= budget]
      if fits:
        chosen = max(fits, key=lambda cd: cd[1])
        break
      smallest = min(cd[0] for cd in cands)
      new_k = C.k_for_params(spec.num_params() * budget / smallest * 0.9,
                             depth, c)
      if new_k >= k:
        new_k = k - 1
      if new_k < 1:
        break
      _say(f'{smallest} bytes > budget {budget:.0f}; refitting with k={new_k}',
           args.quiet)
      k = new_k
    elif args.quality is not None:
      good = [cd for cd in cands if cd[1] >= args.quality]
      chosen = min(good, key=lambda cd: cd[0]) if good else max(
          cands, key=lambda cd: cd[1])
      if not good:
        _say(f'{args.quality} dB not reached (best {chosen[1]:.2f} dB); give '
             'a larger --k or more --steps.', args.quiet)
      break
    else:
      chosen = cands[-1]
      break
  if chosen is None:
    raise UserError(f'Cannot reach {args.bpp} bpp with a deep decoder of this '
                    f'depth; ask for more --bpp or a smaller --depth.')
  data = _finetune(args, params, spec, image, chosen[2], chosen[3])
  restored = C.decode(data)
  psnr = float(metrics.psnr(restored, image))
  ssim = float(metrics.ssim(restored, image))
  _write_bytes(args.output, data)
  info = C.parse(data)
  _say(f'wrote {args.output}: {len(data)} bytes, {8 * len(data) / pixels:.4f}'
       f' bpp, PSNR {psnr:.2f} dB, SSIM {ssim:.4f}, k={k}, bits '
       f'{[t.bits for t in info.tables]}, coder {info.coder}, '
       f'{time.time() - t0:.1f} s', args.quiet)
  return 0


# ---------------------------------------------------------------- decompress
def _parser_decompress():
  p = argparse.ArgumentParser(
      prog='dd-jax decompress',
      description='Decode a .ddz file to a lossless image (PNG/TIFF/BMP).')
  p.add_argument('input', help='The .ddz file.')
  p.add_argument('output', nargs='?', help='Image to write (.png, .tif, .bmp).')
  p.add_argument('--info', action='store_true',
                 help='Print the header (architecture, bits, coder) only.')
  p.add_argument('--force', action='store_true',
                 help='Overwrite an existing output.')
  p.add_argument('--quiet', action='store_true')
  return p


def _read(path: str) -> bytes:
  if not os.path.isfile(path):
    raise UserError(f'.ddz file not found: {path!r}.')
  with open(path, 'rb') as f:
    return f.read()


def decompress(args) -> int:
  from dd_jax.codec import compress as C
  from dd_jax.io import images as data_lib
  data = _read(args.input)
  if args.info:
    d = C.parse(data)
    h, w = d.image_hw
    print(f'{args.input}: {len(data)} bytes, {h}x{w}x{d.spec.out_channels}, '
          f'{8 * len(data) / (h * w):.4f} bpp, channels {d.spec.channels}, '
          f'upsample {d.spec.upsample}, seed {d.seed}, coder {d.coder}, bits '
          f'{[t.bits for t in d.tables]}')
    return 0
  if not args.output:
    raise UserError('Give the output image path (or --info).')
  if not args.output.lower().endswith(LOSSLESS_EXT):
    raise UserError(f'Output {args.output!r}: use a lossless format '
                    f'({", ".join(LOSSLESS_EXT)}).')
  _check_output(args.output, args.force)
  t0 = time.time()
  image = C.decode(data)
  from PIL import Image
  _atomic_write(args.output, lambda tmp: Image.fromarray(
      data_lib.to_uint8(image)).save(
          tmp, format=Image.registered_extensions()[
              os.path.splitext(args.output)[1].lower()]))
  _say(f'wrote {args.output} ({image.shape[0]}x{image.shape[1]}x'
       f'{image.shape[2]}) in {time.time() - t0:.1f} s', args.quiet)
  return 0


COMMANDS = {'compress': (_parser_compress, compress),
            'decompress': (_parser_decompress, decompress)}


def main(argv) -> int:
  """argv[0] is 'compress' or 'decompress'; returns the exit code."""
  if not argv or argv[0] not in COMMANDS:
    print(f'usage: dd-jax {{{",".join(COMMANDS)}}} ...', file=sys.stderr)
    return 2
  make_parser, run = COMMANDS[argv[0]]
  try:
    args = make_parser().parse_args(argv[1:])
  except SystemExit as e:
    return int(e.code or 0)
  try:
    return run(args)
  except UserError as e:
    print(f'error: {e}', file=sys.stderr)
    return 2
