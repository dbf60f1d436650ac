"""Shared test settings: headless plotting and few threads (CI has 2 cores)."""

import os

os.environ.setdefault("MPLBACKEND", "Agg")
os.environ.setdefault("OMP_NUM_THREADS", "1")
