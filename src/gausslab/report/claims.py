"""The claims the study tests: each claim of the paper in plain words, the measurement, its direction.

The paper (arXiv:2503.01898) claims that VAEs and GANs approximate complex data by pushing a
simple Gaussian base through a network;
mixtures of Gaussians approximate densities, but explicit densities become impractical in high
dimension; a fixed N(0, I) VAE prior limits the information captured, leaves holes, and costs
sample quality, diversity and interpretability.

A claim compares side `a` with side `b` (or with a fixed `reference`): the effect is a − b per
seed (paired), and `direction` says which sign the claim predicts. A side names a group of the
study (or picks one from the study view), the metrics.json key, and optionally the
per_example.npz key behind it, which adds the bootstrap over test examples. Adding a claim is one
entry in `CLAIMS`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from gausslab.report.data import Group, StudyView

Pick = Callable[[StudyView], Group | None]


def named(name: str) -> Pick:
    """Pick the group called `name` (None when the study has none)."""
    return lambda view: view.group(name)


def top_dimension(model: str) -> Pick:
    """The dimension-sweep group of `model` at the largest D."""
    def pick(view: StudyView) -> Group | None:
        groups = view.section("dimension", model=model)
        return max(groups, key=lambda g: g.tags["dim"]) if groups else None
    return pick


def first_named(prefix: str) -> Pick:
    """The first group whose name starts with `prefix` (e.g. the smallest IWAE k of the preset)."""
    return lambda view: next((g for g in view.groups if g.name.startswith(prefix)), None)


@dataclass(frozen=True)
class Side:
    """One side of a claim: how it picks its group, the metrics.json key, and optionally the per-example key."""

    group: Pick
    key: str  # metrics.json key, one number per run
    example_key: str | None = None  # per_example.npz key, one number per test example (or prior draw)


@dataclass(frozen=True)
class Claim:
    """One claim of the paper: its words, what is measured (a − b), the report section, the sign it predicts."""

    claim: str  # the paper's claim in plain words
    measurement: str  # what is measured, as "a − b"
    section: str  # report section id that shows the numbers
    a: Side
    b: Side | None
    direction: int  # +1: the claim predicts a − b > 0 (a − reference without b); −1: < 0
    unit: str = ""
    reference: float = 0.0


def _toy_claims(toy: str) -> dict[str, Claim]:
    gaussian = f"toy-{toy}-gaussian"
    return {
        f"pushforward-gan-{toy}": Claim(
            f"A Gaussian base pushed through a generator puts its samples on the modes of {toy}",
            f"high-quality samples (%), PacGAN2 − one Gaussian fitted to {toy}", "s1-toys",
            Side(named(f"toy-{toy}-pacgan2"), "high_quality"), Side(named(gaussian), "high_quality"), +1,
            "percentage points"),
        f"pushforward-vae-{toy}": Claim(
            f"A Gaussian base pushed through a VAE decoder models the density of {toy}",
            f"test NLL, VAE − one Gaussian fitted to {toy}", "s1-toys",
            Side(named(f"toy-{toy}-vae"), "test_nll", "test_nll"), Side(named(gaussian), "test_nll", "test_nll"),
            -1, "nats"),
    }


CLAIMS: dict[str, Claim] = {
    **_toy_claims("ring8"),
    **_toy_claims("grid25"),
    "mixture-approximates": Claim(
        "A mixture of Gaussians approximates a multimodal density",
        "test log-likelihood, GMM with K chosen on validation − one Gaussian (ring8)", "s2-mixtures",
        Side(named("gmm-ksweep-ring8"), "test_log_likelihood", "test_log_likelihood"),
        Side(named("gmm-ksweep-ring8"), "test_log_likelihood_k1", "test_log_likelihood_k1"), +1, "nats"),
    "explicit-impractical": Claim(
        "Explicit densities become impractical in high dimension, so implicit models are needed",
        "test NLL at the largest D, full-covariance GMM − VAE at the same parameter budget", "s3-dimension",
        Side(top_dimension("gmm"), "test_nll", "test_nll"), Side(top_dimension("vae"), "test_nll", "test_nll"),
        +1, "nats"),
    "explicit-mixture-impractical": Claim(
        "Explicit mixtures made to scale (diagonal covariances) still fall behind an implicit model in high dimension",
        "test NLL at the largest D, diagonal GMM − VAE at the same parameter budget", "s3-dimension",
        Side(top_dimension("gmm-diag"), "test_nll", "test_nll"), Side(top_dimension("vae"), "test_nll", "test_nll"),
        +1, "nats"),
    "prior-limits-information": Claim(
        "A fixed N(0, I) prior limits the information a VAE's code captures",
        "distortion −E log p(x|z), VampPrior − N(0, I)", "s4-priors",
        Side(named("prior-vamp"), "distortion"), Side(named("prior-standard"), "distortion"), -1, "nats"),
    "prior-costs-likelihood": Claim(
        "A fixed N(0, I) prior costs likelihood (a learned prior fits better)",
        "test NLL, VampPrior − N(0, I)", "s4-priors",
        Side(named("prior-vamp"), "test_nll", "test_nll"), Side(named("prior-standard"), "test_nll", "test_nll"),
        -1, "nats"),
    "prior-leaves-holes": Claim(
        "A fixed N(0, I) prior leaves holes: prior regions the encoder never uses",
        "share of N(0, I) draws in holes − 0.01 (the share when the prior matches the aggregate posterior)",
        "s4-priors", Side(named("prior-standard"), "prior_holes", "prior_holes"), None, +1, "share of draws",
        reference=0.01),
    "prior-costs-quality": Claim(
        "A fixed N(0, I) prior costs sample quality",
        "FID (domain features), VampPrior − N(0, I)", "s4-priors",
        Side(named("prior-vamp"), "fid_domain"), Side(named("prior-standard"), "fid_domain"), -1),
    "expost-improves-quality": Claim(
        "Sampling the aggregate posterior instead of N(0, I) improves samples of the same network",
        "FID (domain features), ex-post mixture − N(0, I), same weights", "s4-priors",
        Side(named("prior-expost"), "fid_domain"), Side(named("prior-standard"), "fid_domain"), -1),
    "two-stage-improves-quality": Claim(
        "Remedy: a second VAE fitted to the codes (two-stage) samples the same network better than N(0, I)",
        "FID (domain features), two-stage sampler − N(0, I), same weights", "s4-priors",
        Side(named("prior-two-stage"), "fid_domain"), Side(named("prior-standard"), "fid_domain"), -1),
    "iwae-improves-likelihood": Claim(
        "Remedy: training on the importance-weighted bound (IWAE) instead of the ELBO improves likelihood",
        "test NLL, IWAE-trained − ELBO-trained N(0, I) VAE", "s4-priors",
        Side(first_named("prior-iwae"), "test_nll", "test_nll"),
        Side(named("prior-standard"), "test_nll", "test_nll"), -1, "nats"),
    "prior-costs-diversity": Claim(
        "A fixed N(0, I) prior costs sample diversity",
        "recall, VampPrior − N(0, I)", "s4-priors",
        Side(named("prior-vamp"), "recall"), Side(named("prior-standard"), "recall"), +1),
    "prior-costs-interpretability": Claim(
        "A fixed N(0, I) prior costs interpretability",
        "MIG on shapes, VampPrior − N(0, I) (both β = 1)", "s4-priors",
        Side(named("shapes-vamp"), "mig"), Side(named("shapes-beta1"), "mig"), +1),
}
