"""Probabilistic PCA covariances (Tipping & Bishop 1999): C = W W^T + s^2 I with W [D, q].

A mixture of such components is how explicit Gaussian mixtures scale with D: a component costs
D q - q(q-1)/2 + 1 covariance parameters instead of D(D+1)/2, yet still models the q leading
directions of its cluster. Given responsibilities, the best PPCA covariance is closed form, so the
mixture keeps EM's exact M-step (Tipping & Bishop 1999, "Mixtures of probabilistic principal
component analysers", sec. 3.2 and app. C).
"""

from __future__ import annotations

import torch
from torch import Tensor


def ppca_covariance(scatter: Tensor, rank: int) -> Tensor:
    """The maximum-likelihood C = W W^T + s^2 I [K, D, D] for weighted sample covariances `scatter` [K, D, D].

    Tipping & Bishop 1999 (JRSS B, eq. 7-8): s^2 is the mean of the D - q smallest eigenvalues and
    W = U_q (L_q - s^2 I)^(1/2), so C keeps the q leading eigenpairs and replaces the rest by their mean.
    rank = 0 gives an isotropic s^2 I; rank = D - 1 gives C = scatter.
    """
    evals, evecs = torch.linalg.eigh(scatter)  # ascending [K, D], [K, D, D]
    evals = evals.clamp(min=0)  # a rank-deficient scatter's zero eigenvalues can come out as -1e-17
    tail = evals.shape[-1] - rank
    noise = evals[:, :tail].mean(-1, keepdim=True)  # [K, 1]
    kept = torch.cat([noise.expand(-1, tail), evals[:, tail:]], dim=-1)  # [K, D]
    return (evecs * kept.unsqueeze(1)) @ evecs.transpose(1, 2)


def ppca_parameters(dim: int, rank: int) -> int:
    """Free parameters of one PPCA covariance: W up to a rotation (D q - q(q-1)/2) and s^2 (1)."""
    return dim * rank - rank * (rank - 1) // 2 + 1
