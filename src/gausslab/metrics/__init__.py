"""Metric functions with exact reference definitions, on feature matrices, codes and models' outputs.

The feature network these are usually computed in is trained above the trainer: `gausslab.evaluation.features`.
"""

from gausslab.metrics.disentangle import DciResult, dci, mig
from gausslab.metrics.latent import LatentReport, latent_fidelity, latent_report
from gausslab.metrics.nll import IwaeResult, iwae_nll
from gausslab.metrics.samples import KidResult, fid, frechet_distance, kid, prdc
from gausslab.metrics.toy import ModeCoverage, kde_log_likelihood, mode_coverage, toy_metrics

__all__ = [
    "DciResult", "IwaeResult", "KidResult", "LatentReport", "ModeCoverage", "dci",
    "fid", "frechet_distance", "iwae_nll", "kde_log_likelihood", "kid", "latent_fidelity", "latent_report", "mig",
    "mode_coverage", "prdc", "toy_metrics",
]
