"""Fresh-buffer cost: an elementwise op on 67 MB vs numpy copy into an existing buffer (lever 1).

    python benchmarks/alloc_probe.py
    LD_PRELOAD=/usr/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4 python benchmarks/alloc_probe.py
    MALLOC_ARENA_MAX=1 MALLOC_MMAP_MAX_=0 MALLOC_TRIM_THRESHOLD_=100000000000 python benchmarks/alloc_probe.py
"""
import time, statistics
import jax, jax.numpy as jnp, numpy as np
x = jax.random.uniform(jax.random.key(3), (512, 512, 64))
f = jax.jit(lambda x: x * 2)
for _ in range(3):
  ts=[]
  for _ in range(10):
    t=time.perf_counter(); jax.block_until_ready(f(x)); ts.append(time.perf_counter()-t)
  print('x*2 ms', [round(t*1e3,1) for t in ts])
a = np.ones((512*512*64,), np.float32); b = np.empty_like(a)
ts=[]
for _ in range(10):
  t=time.perf_counter(); np.copyto(b, a); ts.append(time.perf_counter()-t)
print('np copy', [round(t*1e3,1) for t in ts])
