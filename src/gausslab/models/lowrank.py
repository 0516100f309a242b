"""Low-rank-plus-noise covariances C = W W^T + Psi with W [D, q]: how explicit Gaussian mixtures scale with D.

A component then costs about D q covariance parameters instead of D(D+1)/2, yet still models the q
leading directions of its cluster. Two noise models:

- probabilistic PCA (Tipping & Bishop 1999): Psi = s^2 I. Given responsibilities the best C is
  closed form, so a mixture keeps EM's exact M-step ("Mixtures of probabilistic principal component
  analysers", sec. 3.2 and app. C).
- factor analysis (Rubin & Thayer 1982; mixtures: Ghahramani & Hinton 1996): Psi diagonal, one noise
  variance per dimension, which is what pixels need (always-dark borders vary far less than strokes).
  No closed form: each M-step takes one EM step of the factor model on the component's weighted
  covariance, which never lowers the mixture's likelihood (a generalised EM).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn


def _leading(scatter: Tensor, rank: int) -> tuple[Tensor, Tensor, Tensor]:
    """Eigen-decomposition of scatter [K, D, D]: (eigenvalues ascending [K, D] floored at 0, eigenvectors
    [K, D, D], the mean of the D - q smallest eigenvalues [K, 1])."""
    evals, evecs = torch.linalg.eigh(scatter)
    evals = evals.clamp(min=0)  # a rank-deficient scatter's zero eigenvalues can come out as -1e-17
    return evals, evecs, evals[:, : evals.shape[-1] - rank].mean(-1, keepdim=True)


def ppca_covariance(scatter: Tensor, rank: int) -> Tensor:
    """The maximum-likelihood C = W W^T + s^2 I [K, D, D] for weighted sample covariances `scatter` [K, D, D].

    Tipping & Bishop 1999 (JRSS B, eq. 7-8): s^2 is the mean of the D - q smallest eigenvalues and
    W = U_q (L_q - s^2 I)^(1/2), so C keeps the q leading eigenpairs and replaces the rest by their mean.
    rank = 0 gives an isotropic s^2 I; rank = D - 1 gives C = scatter.
    """
    evals, evecs, noise = _leading(scatter, rank)
    tail = evals.shape[-1] - rank
    kept = torch.cat([noise.expand(-1, tail), evals[:, tail:]], dim=-1)  # [K, D]
    return (evecs * kept.unsqueeze(1)) @ evecs.transpose(1, 2)


def ppca_parameters(dim: int, rank: int) -> int:
    """Free parameters of one PPCA covariance: W up to a rotation (D q - q(q-1)/2) and s^2 (1)."""
    return dim * rank - rank * (rank - 1) // 2 + 1


def factor_parameters(dim: int, rank: int) -> int:
    """Free parameters of one factor-analysis covariance: W up to a rotation and D noise variances, at most
    a full covariance's D(D+1)/2 (beyond Ledermann's bound the factor model no longer constrains C)."""
    return min(dim * rank - rank * (rank - 1) // 2 + dim, dim * (dim + 1) // 2)


class FactorAnalysers(nn.Module):
    """The loadings W [K, D, q] and noise variances Psi [K, D] of K factor analysers (float64 buffers)."""

    def __init__(self, components: int, dim: int, rank: int):
        super().__init__()
        self.register_buffer("loadings", torch.zeros(components, dim, rank, dtype=torch.float64))
        self.register_buffer("noise", torch.ones(components, dim, dtype=torch.float64))

    def update(self, scatter: Tensor, ridge: float) -> Tensor:
        """One EM step of every factor model on its weighted covariance scatter [K, D, D]; returns the new
        C = W W^T + diag(Psi) [K, D, D]. `ridge` is added to the noise variances (as scikit-learn's
        reg_covar).

        W = 0 is a fixed point of this EM step, so loadings that are all zero (a new mixture, or one
        started by `GMM.set_parameters`) first start from the PPCA fit of the scatter, with Psi its
        diagonal residual.
        """
        if not self.loadings.any():
            self._start(scatter, ridge)
        w, psi = self.loadings, self.noise
        # Rubin & Thayer 1982 in matrix form: beta = W^T C^-1 = (I + W^T Psi^-1 W)^-1 W^T Psi^-1 (Woodbury)
        eye = torch.eye(w.shape[-1], dtype=w.dtype, device=w.device)
        scaled = w / psi.unsqueeze(-1)  # Psi^-1 W [K, D, q]
        beta = torch.linalg.solve(eye + w.transpose(1, 2) @ scaled, scaled.transpose(1, 2))  # [K, q, D]
        s_beta = scatter @ beta.transpose(1, 2)  # S beta^T [K, D, q]
        second = eye - beta @ w + beta @ s_beta  # E[z z^T] averaged over the component [K, q, q]
        w_new = torch.linalg.solve(second, s_beta.transpose(1, 2)).transpose(1, 2)  # S beta^T second^-1 [K, D, q]
        residual = scatter.diagonal(dim1=1, dim2=2) - (w_new * s_beta).sum(-1)  # diag(S - W_new beta S) [K, D]
        self.loadings.copy_(w_new)
        self.noise.copy_(residual.clamp(min=0) + ridge)
        return self.covariance()

    def covariance(self) -> Tensor:
        """C = W W^T + diag(Psi) [K, D, D]."""
        return self.loadings @ self.loadings.transpose(1, 2) + torch.diag_embed(self.noise)

    def _start(self, scatter: Tensor, ridge: float) -> None:
        evals, evecs, noise = _leading(scatter, self.loadings.shape[-1])
        rank = self.loadings.shape[-1]
        top = evecs[:, :, evals.shape[-1] - rank :] * (evals[:, evals.shape[-1] - rank :] - noise).sqrt().unsqueeze(1)
        self.loadings.copy_(top)  # the PPCA loadings U_q (L_q - s^2 I)^(1/2) [K, D, q]
        residual = scatter.diagonal(dim1=1, dim2=2) - top.square().sum(-1)
        self.noise.copy_(residual.clamp(min=0) + ridge)
