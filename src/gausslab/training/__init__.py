"""Training: the one loop (`loop.fit`), its config, checkpoints and resume, the non-finite guard, DDP
helpers, the run config, and models fitted through the loop by library code (`fitting`)."""
