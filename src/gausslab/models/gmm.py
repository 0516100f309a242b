"""Explicit Gaussian mixture fitted by EM (Dempster et al. 1977), trained by the one trainer.

Each training step is one EM iteration on the whole training set (`full_batch`); the update
is closed form, so the step yields `Loss(None, -mean log-likelihood)` and nothing is
backpropagated. EM never lowers the training likelihood (Bishop 2006, sec. 9.4) — up to the
small ridge `reg_covar` adds to each covariance, which keeps them invertible. Parameters
are float64 buffers, so they checkpoint and resume like any weights. Data of any shape is
flattened to [N, D]; samples are reshaped back.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from dataclasses import dataclass

import torch
from torch import Tensor

from gausslab.config import GMMConfig, TrainConfig, validate
from gausslab.data import Dataset
from gausslab.errors import DataError, TrainingError
from gausslab.models.base import GenerativeModel, Loss

_EPS = 10 * torch.finfo(torch.float64).eps  # keeps empty components' counts positive (as scikit-learn)


class GMM(GenerativeModel):
    """p(x) = sum_k w_k N(x; mu_k, Sigma_k), Sigma_k full [D, D] or diagonal [D]."""

    full_batch = True

    def __init__(self, config: GMMConfig, shape: tuple[int, ...]):
        super().__init__()
        self.config, self.shape = config, tuple(shape)
        k, d = config.components, math.prod(self.shape)
        full = config.covariance == "full"
        cov = torch.eye(d, dtype=torch.float64).repeat(k, 1, 1) if full else torch.ones(k, d, dtype=torch.float64)
        self.register_buffer("weights", torch.full((k,), 1 / k, dtype=torch.float64))  # [K]
        self.register_buffer("means", torch.zeros(k, d, dtype=torch.float64))  # [K, D]
        self.register_buffer("covariances", cov)  # [K, D, D] or [K, D]
        self.register_buffer("initialised", torch.zeros((), dtype=torch.bool))
        self.register_buffer("last_loglik", torch.tensor(-math.inf, dtype=torch.float64))

    @property
    def n_parameters(self) -> int:
        """Free parameters: K-1 weights, K*D means, K*D(D+1)/2 (full) or K*D (diag) covariances."""
        k, d = self.means.shape
        per_cov = d * (d + 1) // 2 if self.config.covariance == "full" else d
        return (k - 1) + k * d + k * per_cov

    def optimizers(self, train: TrainConfig) -> dict[str, torch.optim.Optimizer]:
        return {}  # EM updates in closed form

    def _flat(self, x: Tensor) -> Tensor:
        return x.reshape(x.shape[0], -1).to(self.means)  # [N, D] float64

    # --- densities -------------------------------------------------------------------------

    def _cholesky(self) -> Tensor:
        """Lower Cholesky factors [K, D, D] of the full covariances."""
        try:
            return torch.linalg.cholesky(self.covariances)
        except torch.linalg.LinAlgError:
            raise TrainingError(
                f"a covariance of the {self.config.components}-component mixture is not positive definite; "
                f"raise model.reg_covar (now {self.config.reg_covar})"
            ) from None

    def _component_log_prob(self, x: Tensor) -> Tensor:
        """log N(x_n; mu_k, Sigma_k) [N, K] for float64 x [N, D], all components at once.

        Full: Mahalanobis terms through the inverse Cholesky factors (one batched GEMM), in row
        chunks so memory stays O(chunk * K * D). Diagonal: expanded into three matmuls (as scikit-learn).
        """
        if self.config.covariance == "diag":
            prec = 1.0 / self.covariances  # [K, D]
            maha = x.square() @ prec.T - 2 * x @ (self.means * prec).T + (self.means.square() * prec).sum(1)
            half_log_det = 0.5 * self.covariances.log().sum(1)  # [K]
        else:
            chol = self._cholesky()  # [K, D, D]
            rows = max(1, (1 << 22) // (chol.shape[0] * chol.shape[1]))
            eye = torch.eye(chol.shape[1], dtype=chol.dtype, device=chol.device)
            inv_chol = torch.linalg.solve_triangular(chol, eye.expand_as(chol), upper=False)  # [K, D, D]
            maha = torch.cat([self._full_maha(chunk, inv_chol) for chunk in x.split(rows)])
            half_log_det = chol.diagonal(dim1=1, dim2=2).log().sum(1)
        return -0.5 * maha - half_log_det - 0.5 * x.shape[1] * math.log(2 * math.pi)

    def _full_maha(self, x: Tensor, inv_chol: Tensor) -> Tensor:
        """(x - mu_k)^T Sigma_k^-1 (x - mu_k) [N, K] as ||L_k^-1 x - L_k^-1 mu_k||^2: one [N, D] x [D, K*D] GEMM."""
        k, d, _ = inv_chol.shape
        stacked = inv_chol.transpose(1, 2).permute(1, 0, 2).reshape(d, k * d)  # columns: L_k^-T for every k
        shift = (inv_chol @ self.means.unsqueeze(-1)).squeeze(-1)  # [K, D]
        y = (x @ stacked).view(-1, k, d) - shift  # [N, K, D]
        return y.square().sum(-1)

    def _joint_log_prob(self, x: Tensor) -> Tensor:
        return self._component_log_prob(x) + self.weights.log()  # [N, K]

    def log_prob(self, x: Tensor) -> Tensor:
        """log p(x) [N] in the dtype of x (computed in float64)."""
        return torch.logsumexp(self._joint_log_prob(self._flat(x)), dim=1).to(x.dtype)

    def bic(self, x: Tensor) -> Tensor:
        """Bayesian information criterion -2 log L + p log N (Schwarz 1978); lower is better."""
        return -2 * self.log_prob(x.double()).sum() + self.n_parameters * math.log(x.shape[0])

    # --- EM ------------------------------------------------------------------------------------

    def _m_step(self, x: Tensor, resp: Tensor) -> None:
        """Closed-form maximiser given responsibilities resp [N, K] (Bishop 2006, eq. 9.24-9.26)."""
        counts = resp.sum(0) + _EPS  # [K]
        self.weights.copy_(counts / x.shape[0])
        self.means.copy_(resp.T @ x / counts.unsqueeze(1))  # [K, D]
        share = resp / counts  # [N, K]: each example's weight in each component's average
        if self.config.covariance == "diag":  # E_k[x^2] - mu_k^2, as scikit-learn
            var = share.T @ x.square() - self.means.square()
            self.covariances.copy_(var.clamp(min=0) + self.config.reg_covar)
            return
        # Sigma_k = E_k[x x^T] - mu_k mu_k^T on data centred at the global mean (float64: little
        # cancellation), all components in one [D, N] x [N, K*D] GEMM per chunk of rows.
        k, d = self.means.shape
        centre = x.mean(0)
        second = torch.zeros(d, k * d, dtype=x.dtype, device=x.device)
        rows = max(1, (1 << 22) // (k * d))
        for xs, ws in zip((x - centre).split(rows), share.split(rows)):
            second += xs.T @ (ws.unsqueeze(-1) * xs.unsqueeze(1)).reshape(-1, k * d)
        mu = self.means - centre  # [K, D]
        cov = second.view(d, k, d).transpose(0, 1) - mu.unsqueeze(2) * mu.unsqueeze(1)
        self.covariances.copy_(cov + self.config.reg_covar * torch.eye(d, dtype=x.dtype, device=x.device))

    def _initialise(self, x: Tensor) -> None:
        """k-means++ seeds (Arthur & Vassilvitskii 2007), hard assignment, one M-step (as scikit-learn).

        Draws from torch's global RNG, so the trainer's seed fixes the initialisation.
        """
        n, k = x.shape[0], self.config.components
        if k > n:
            raise DataError(f"model.components={k} exceeds the {n} training examples; use at most {n}")
        centres = x[torch.randint(n, (1,), device=x.device)]  # [1, D]
        d2 = (x - centres).square().sum(1)  # [N] squared distance to the nearest centre
        for _ in range(k - 1):
            probs = d2 if bool(d2.sum() > 0) else torch.ones_like(d2)  # all points equal: pick uniformly
            new = x[torch.multinomial(probs, 1)]
            centres = torch.cat([centres, new])
            d2 = torch.minimum(d2, (x - new).square().sum(1))
        nearest = torch.cdist(x, centres).argmin(1)  # [N]
        self._m_step(x, torch.nn.functional.one_hot(nearest, k).to(x.dtype))
        self.initialised.fill_(True)

    def em_step(self, x: Tensor) -> Tensor:
        """One EM iteration on x [N, *shape]; returns the mean log-likelihood before the update.

        With `tol`, a gain below tol since the previous iteration leaves the parameters as they are.
        """
        x = self._flat(x)
        if not bool(self.initialised):
            self._initialise(x)
        joint = self._joint_log_prob(x)  # E-step [N, K]
        log_px = torch.logsumexp(joint, dim=1, keepdim=True)  # [N, 1]
        loglik = log_px.mean()
        if loglik - self.last_loglik >= self.config.tol or self.config.tol == 0:
            self._m_step(x, (joint - log_px).exp())
            self.last_loglik.copy_(loglik)
        return loglik

    def training_losses(self, x: Tensor, step: int) -> Iterator[Loss]:
        loglik = self.em_step(x)
        yield Loss(None, -loglik, {"log_likelihood": loglik})

    def validation_terms(self, x: Tensor) -> dict[str, Tensor]:
        return {"test_log_likelihood": self.log_prob(x.double()).mean()}

    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """n draws [n, *shape] (float32): a component by weight, then mu_k + L_k eps."""
        k = torch.multinomial(self.weights, n, replacement=True, generator=generator)  # [n]
        eps = torch.randn(n, self.means.shape[1], generator=generator, device=self.device, dtype=torch.float64)
        if self.config.covariance == "full":
            noise = (self._cholesky()[k] @ eps.unsqueeze(-1)).squeeze(-1)  # [n, D]
        else:
            noise = self.covariances[k].sqrt() * eps
        return (self.means[k] + noise).float().view(n, *self.shape)


def fit_gmm(data: Dataset, steps: int = 100, seed: int = 0, device: str = "auto", **config: object) -> GMM:
    """A GMM (GMMConfig fields as keywords) trained on data.train for `steps` EM iterations by `train.fit`."""
    from gausslab.train import fit  # imported here: train.py imports the model registry, which imports us

    model = GMM(validate(GMMConfig, {"kind": "gmm", **config}), data.shape)
    train = TrainConfig(epochs=steps, seed=seed, log_every=steps, checkpoint_every=steps, device=device)
    fit(model, data, train, progress=False)
    return model


@dataclass
class KSweepPoint:
    """One mixture size of `k_sweep`."""

    k: int
    test_log_likelihood: float  # mean nats per test example
    n_parameters: int
    fit_seconds: float
    bic: float  # on the training set


def k_sweep(
    data: Dataset, ks: list[int], covariance: str = "full", steps: int = 100, seed: int = 0, **config: object
) -> list[KSweepPoint]:
    """Test log-likelihood, size and fit time of GMMs with each K in `ks`: what density fits cost as D grows."""
    points = []
    for k in ks:
        start = time.perf_counter()
        model = fit_gmm(data, steps, seed, components=k, covariance=covariance, **config)
        seconds = time.perf_counter() - start
        with torch.no_grad():
            test_ll = float(model.log_prob(data.test.double()).mean())
            bic = float(model.bic(data.train))
        points.append(KSweepPoint(k, test_ll, model.n_parameters, seconds, bic))
    return points
