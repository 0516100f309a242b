"""Training: the one loop (`loop.fit`), its config, checkpoints and resume, the non-finite guard, DDP
helpers, the run config, models fitted through the loop by library code (`fitting`), stop signals
(`interrupt`), the run-folder lock (`runlock`) and the rules for using a run folder (`runfolder`)."""
