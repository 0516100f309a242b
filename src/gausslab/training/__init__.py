"""Training: the one loop (`loop.fit`), its config, checkpoints and resume, the non-finite guard, DDP
helpers, the run config, and mixtures fitted through the loop."""
