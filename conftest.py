"""Test-session defaults, read before any test module imports numpy, torch or spaCy.

One BLAS/OpenMP thread: the thread count changes the order of floating-point sums, so a model
trained in a unit test would otherwise differ between a 2-core and a 16-core machine. Every
model-training fixture also fixes its seeds.
"""

import os

for variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                 "BLIS_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ.setdefault(variable, "1")
