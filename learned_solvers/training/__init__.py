"""Training data (solved instances, Dask-parallel) and training loops."""
