"""Metrics with exact reference definitions (see DESIGN.md, "Metric functions")."""

from gausslab.metrics.disentangle import DciResult, dci, mig
from gausslab.metrics.features import FeatureExtractor, extractor
from gausslab.metrics.latent import LatentReport, latent_fidelity, latent_report
from gausslab.metrics.likelihood import IwaeResult, iwae_nll
from gausslab.metrics.samples import KidResult, fid, frechet_distance, kid, prdc
from gausslab.metrics.toy import ModeCoverage, kde_log_likelihood, mode_coverage, toy_metrics

__all__ = [
    "DciResult", "FeatureExtractor", "IwaeResult", "KidResult", "LatentReport", "ModeCoverage", "dci", "extractor",
    "fid", "frechet_distance", "iwae_nll", "kde_log_likelihood", "kid", "latent_fidelity", "latent_report", "mig",
    "mode_coverage", "prdc", "toy_metrics",
]
