"""The deep decoder as a lossy image codec (.ddz files).

  compress.py  fit, quantize, serialize, decode
  entropy.py   entropy coders of the quantized symbols
  cli.py       `dd-jax compress` / `dd-jax decompress`
"""
