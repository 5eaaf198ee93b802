"""Training package for explanation tuning: data building, tokenization, packing, training."""
import os as _os

# Before torch loads OpenMP: with spinning worker threads, a small matmul on a busy
# 2-core machine takes ~150x longer (15 ms instead of 0.1 ms for a tiny model's layer);
# passive waiting costs nothing measurable on large ops. Users can still override it.
_os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
