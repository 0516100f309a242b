"""Explicit Gaussian mixture fitted by EM (Dempster et al. 1977), trained by the one trainer.

Covariances are full, diagonal, or low-rank plus isotropic noise (a mixture of probabilistic PCA)
or plus diagonal noise (a mixture of factor analysers), `models.lowrank`. With `preprocess` the
mixture is fitted to y = f(x) (e.g. RealNVP's logit) and log p(x) adds log|det df/dx|, so it stays
a density of x in data space.

Each training step is one EM iteration on the whole training set (`full_batch`); the update
is closed form, so the step yields `Loss(None, -mean log-likelihood)` and nothing is
backpropagated. EM never lowers the training likelihood (Bishop 2006, sec. 9.4) — up to the
small ridge `reg_covar` adds to each covariance, which keeps them invertible. Parameters
are float64 buffers, so they checkpoint and resume like any weights. Data of any shape is
flattened to [N, D]; samples are reshaped back.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Literal, get_args

import torch
from pydantic import Field
from torch import Tensor

from gausslab.core.config import StrictModel, choices
from gausslab.core.errors import ConfigError, DataError, TrainingError
from gausslab.models.base import ClosedFormModel, Loss
from gausslab.models.lowrank import FactorAnalysers, factor_parameters, ppca_covariance, ppca_parameters
from gausslab.models.preprocess import PREPROCESS_HELP, PREPROCESSORS, preprocessor

_EPS = 10 * torch.finfo(torch.float64).eps  # keeps empty components' counts positive (as scikit-learn)


Covariance = Literal["full", "diag"]  # the covariances scikit-learn's GaussianMixture shares with ours
LowRank = Literal["lowrank", "factor"]  # low rank plus noise (`models.lowrank`)
MixtureStart = Literal["nearest-seed", "k-means++"]  # how EM starts (GMMConfig.init_params)


class GMMConfig(StrictModel):
    """Arguments of `GMM`: mixture size, covariance form and EM settings."""

    kind: Literal["gmm"] = "gmm"
    components: int = Field(10, gt=0, description="mixture components K")
    covariance: Literal[Covariance, LowRank] = Field("full", description=(
        "covariance form of every component: full [D, D], diag [D], lowrank: W W^T + s^2 I with W [D, rank], a "
        "mixture of probabilistic PCA (Tipping & Bishop 1999), or factor: W W^T + diagonal noise, a mixture of "
        "factor analysers (Ghahramani & Hinton 1996)"))
    rank: int = Field(1, ge=0, le=100_000, description="columns of W for covariance=lowrank or factor, below the data "
                                           "dimension (0: isotropic or diagonal); ignored otherwise")
    init_params: MixtureStart = Field(
        "nearest-seed", description="Start of EM: greedy k-means++ seeds with every example given to its nearest "
        "seed ('nearest-seed'), or scikit-learn's 'k-means++': each component's responsibilities start from its "
        "seed point alone.")
    reg_covar: float = Field(1e-6, gt=0, description="added to covariance diagonals (as scikit-learn)")
    tol: float = Field(1e-4, ge=0, description="stop when the mean log-likelihood gains less than this")
    preprocess: choices(["auto", *PREPROCESSORS]) = Field("none", description=PREPROCESS_HELP)


class GMM(ClosedFormModel):
    """p(x) = sum_k w_k N(x; mu_k, Sigma_k), Sigma_k full [D, D], diagonal [D] or low-rank (stored as [D, D])."""

    config_class = GMMConfig

    def __init__(self, config: GMMConfig, shape: tuple[int, ...]):
        super().__init__()
        self.config, self.shape = config, tuple(shape)
        k, d = config.components, math.prod(self.shape)
        if config.covariance in get_args(LowRank) and config.rank >= d:
            raise ConfigError(f"model.rank={config.rank} must be below the data dimension {d} for "
                              f"covariance={config.covariance}; choose 0 to {d - 1}")
        self.preprocessor = preprocessor(config.preprocess, self.shape)
        full = config.covariance != "diag"
        cov = torch.eye(d, dtype=torch.float64).repeat(k, 1, 1) if full else torch.ones(k, d, dtype=torch.float64)
        self.register_buffer("weights", torch.full((k,), 1 / k, dtype=torch.float64))  # [K]
        self.register_buffer("means", torch.zeros(k, d, dtype=torch.float64))  # [K, D]
        self.register_buffer("covariances", cov)  # [K, D, D] or [K, D]
        self.register_buffer("initialised", torch.zeros((), dtype=torch.bool))
        self.register_buffer("last_loglik", torch.tensor(-math.inf, dtype=torch.float64))
        # True after an iteration that gained less than `tol` (and so left the parameters as they were)
        self.register_buffer("settled", torch.zeros((), dtype=torch.bool), persistent=False)
        if config.covariance == "factor":
            self.factors = FactorAnalysers(k, d, config.rank)

    def forward(self, x: Tensor) -> Tensor:
        """log p(x) [B]: the per-example log-likelihood whose mean EM raises."""
        return self.log_prob(x)

    @property
    def n_parameters(self) -> int:
        """Free parameters: K-1 weights, K*D means, and K covariances of D(D+1)/2 (full), D (diag),
        Dq - q(q-1)/2 + 1 (lowrank) or Dq - q(q-1)/2 + D (factor, at most full) parameters, q = rank."""
        k, d = self.means.shape
        q = self.config.rank
        per_cov = {"full": d * (d + 1) // 2, "diag": d, "lowrank": ppca_parameters(d, q),
                   "factor": factor_parameters(d, q)}
        return (k - 1) + k * d + k * per_cov[self.config.covariance]

    def check_data(self, n: int, batch: int) -> None:
        """Refuse more components than training examples, before any file is written."""
        if self.config.components > n:
            raise DataError(f"model.components={self.config.components} exceeds the {n} training examples; "
                            f"use at most {n}")

    def prepare(self, x: Tensor) -> Tensor:
        """x [N, *shape] -> the rows EM reads, in float64: [statistics, log|det dy/dx|] [N, F + 1].

        y = the preprocessed x flattened [N, D]; the statistics are y for full and low-rank covariances,
        [y, y^2] [N, 2D] for diagonal ones (whose log-densities and M-step are then one GEMM each); the
        last column turns log p(y) into log p(x). The trainer calls this once per run, not at every iteration.
        """
        x = x.reshape(x.shape[0], -1).to(self.means)
        self.preprocessor.check(x)
        mapped = self.preprocessor.forward(x)
        stats = torch.cat([mapped.y, mapped.y.square()], dim=1) if self.config.covariance == "diag" else mapped.y
        return torch.cat([stats, mapped.log_det.unsqueeze(1)], dim=1)

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
        """log N(x_n; mu_k, Sigma_k) [N, K] for prepared x (see `prepare`), all components at once.

        Full: Mahalanobis terms through the inverse Cholesky factors (one batched GEMM), in row
        chunks so memory stays O(chunk * K * D). Diagonal: one GEMM on [x, x^2] (below).
        """
        if self.config.covariance == "diag":
            return self._diag_log_prob(x)
        chol = self._cholesky()  # [K, D, D]
        rows = max(1, (1 << 22) // (chol.shape[0] * chol.shape[1]))
        eye = torch.eye(chol.shape[1], dtype=chol.dtype, device=chol.device)
        inv_chol = torch.linalg.solve_triangular(chol, eye.expand_as(chol), upper=False)  # [K, D, D]
        maha = torch.cat([self._full_maha(chunk, inv_chol) for chunk in x.split(rows)])
        half_log_det = chol.diagonal(dim1=1, dim2=2).log().sum(1)
        return -0.5 * maha - half_log_det - 0.5 * x.shape[1] * math.log(2 * math.pi)

    def _diag_log_prob(self, stats: Tensor) -> Tensor:
        """log N(x_n; mu_k, diag s_k) [N, K] from stats = [x, x^2] [N, 2D] in one addmm: the exponent
        is linear in them, sum_d x_d mu_kd / s_kd - 1/2 sum_d x_d^2 / s_kd, plus a per-component constant."""
        prec = 1.0 / self.covariances  # [K, D]
        coef = torch.cat([self.means * prec, -0.5 * prec], dim=1)  # [K, 2D]
        const = -0.5 * ((self.means.square() * prec).sum(1) + self.covariances.log().sum(1)
                        + prec.shape[1] * math.log(2 * math.pi))  # [K]
        return torch.addmm(const, stats, coef.T)

    def _full_maha(self, x: Tensor, inv_chol: Tensor) -> Tensor:
        """(x - mu_k)^T Sigma_k^-1 (x - mu_k) [N, K] as ||L_k^-1 x - L_k^-1 mu_k||^2: one [N, D] x [D, K*D] GEMM."""
        k, d, _ = inv_chol.shape
        stacked = inv_chol.transpose(1, 2).permute(1, 0, 2).reshape(d, k * d)  # columns: L_k^-T for every k
        shift = (inv_chol @ self.means.unsqueeze(-1)).squeeze(-1)  # [K, D]
        y = (x @ stacked).view(-1, k, d) - shift  # [N, K, D]
        return y.square().sum(-1)

    def _joint_log_prob(self, x: Tensor) -> Tensor:
        return self._component_log_prob(x) + self.weights.log()  # [N, K]

    def posterior(self, x: Tensor) -> Tensor:
        """p(component k | x) [N, K] in float64 (the E-step's responsibilities)."""
        stats, _ = _split(self.prepare(x))
        return torch.softmax(self._joint_log_prob(stats), dim=1)

    def log_prob(self, x: Tensor) -> Tensor:
        """log p(x) [N] in data space, in the dtype of x (computed in float64)."""
        stats, log_det = _split(self.prepare(x))
        return (torch.logsumexp(self._joint_log_prob(stats), dim=1) + log_det).to(x.dtype)

    def bic(self, x: Tensor) -> Tensor:
        """Bayesian information criterion -2 log L + p log N (Schwarz 1978); lower is better."""
        return -2 * self.log_prob(x.double()).sum() + self.n_parameters * math.log(x.shape[0])

    # --- EM ------------------------------------------------------------------------------------

    def _m_step(self, x: Tensor, resp: Tensor) -> None:
        """Closed-form maximiser given the statistics x of prepared rows (`_split`) and responsibilities resp [N, K]
        (Bishop 2006, eq. 9.24-9.26)."""
        counts = resp.sum(0) + _EPS  # [K]
        self.weights.copy_(counts / x.shape[0])
        moments = (resp.T @ x) / counts.unsqueeze(1)  # [K, D] means, or [K, 2D] E_k[x], E_k[x^2] (diag)
        if self.config.covariance == "diag":  # E_k[x^2] - mu_k^2, as scikit-learn
            mean, second = moments.chunk(2, dim=1)
            self.means.copy_(mean)
            self.covariances.copy_((second - mean.square()).clamp(min=0) + self.config.reg_covar)
            return
        self.means.copy_(moments)
        share = resp / counts  # [N, K]: each example's weight in each component's average
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
        if self.config.covariance == "factor":  # one EM step of each factor model (noise variances carry the ridge)
            self.covariances.copy_(self.factors.update(cov, self.config.reg_covar))
            return
        if self.config.covariance == "lowrank":  # the best PPCA covariance for this scatter: still an exact M-step
            cov = ppca_covariance(cov, self.config.rank)
        self.covariances.copy_(cov + self.config.reg_covar * torch.eye(d, dtype=x.dtype, device=x.device))

    def initialise(self, rows: Tensor) -> None:
        """Responsibilities from k-means++ seeds (`kmeans_plusplus`), then one M-step. `nearest-seed`: every
        example belongs to its nearest seed; `k-means++` (scikit-learn's init_params="k-means++"): each
        component's responsibilities sit on its seed point alone, so it starts at that point with
        covariance reg_covar * I.

        rows: the training set as `prepare` gives it. Draws from torch's global RNG, so the trainer's seed
        fixes the initialisation.
        """
        stats, _ = _split(rows)
        x = stats[:, : self.means.shape[1]]  # [N, D]
        n, k = x.shape[0], self.config.components
        self.check_data(n, n)
        seeds = kmeans_plusplus(x, k)  # [K]
        if self.config.init_params == "k-means++":
            resp = torch.zeros(n, k, dtype=x.dtype, device=x.device)
            resp[seeds, torch.arange(k, device=x.device)] = 1
        else:
            resp = torch.nn.functional.one_hot(torch.cdist(x, x[seeds]).argmin(1), k).to(x.dtype)
        self._m_step(stats, resp)
        self.initialised.fill_(True)

    @torch.no_grad()
    def set_parameters(
        self, weights: Tensor | None = None, means: Tensor | None = None, covariances: Tensor | None = None
    ) -> None:
        """Start EM from these parameters (None keeps the current ones, e.g. from `initialise`): weights [K],
        means [K, D], covariances [K, D, D] (full, lowrank, factor) or [K, D] (diag), in the preprocessed space."""
        given = {"weights": weights, "means": means, "covariances": covariances}
        for name, value in given.items():
            if value is None:
                continue
            buffer = getattr(self, name)
            value = torch.as_tensor(value, dtype=buffer.dtype, device=buffer.device)
            if value.shape != buffer.shape:
                raise ConfigError(f"initial {name} must have shape {list(buffer.shape)}; got {list(value.shape)}")
            buffer.copy_(value)
        self.initialised.fill_(True)

    def converged(self) -> bool:
        """True after an EM iteration that gained less than `tol`, leaving the parameters as they were.

        Never with tol = 0, where every iteration updates them.
        """
        return bool(self.settled)

    def em_step(self, x: Tensor) -> Tensor:
        """One EM iteration on x [N, *shape]; returns the mean log-likelihood (data space) before the update.

        With `tol`, a gain below tol since the previous iteration leaves the parameters as they are.
        """
        return self._em_iteration(self.prepare(x))

    def _em_iteration(self, rows: Tensor) -> Tensor:
        """`em_step` on prepared rows."""
        if not bool(self.initialised):
            self.initialise(rows)
        x, log_det = _split(rows)
        joint = self._joint_log_prob(x)  # E-step [N, K]
        # logsumexp by hand so one exp gives both log p(x) and the responsibilities
        top = joint.amax(dim=1, keepdim=True)  # [N, 1]
        unnormalised = (joint - top).exp_()  # [N, K]
        total = unnormalised.sum(dim=1, keepdim=True)
        loglik = ((top + total.log()).squeeze(1) + log_det).mean()
        gained = bool(loglik - self.last_loglik >= self.config.tol) or self.config.tol == 0
        if gained:
            self._m_step(x, unnormalised / total)
            self.last_loglik.copy_(loglik)
        self.settled.fill_(not gained)
        return loglik

    def training_losses(self, x: Tensor, step: int) -> Iterator[Loss]:
        """One EM iteration on the prepared rows x; its loss is minus the mean log-likelihood before the update."""
        loglik = self._em_iteration(x)  # the trainer passes `prepare`d rows
        yield Loss(None, -loglik, {"log_likelihood": loglik})

    def validation_terms(self, x: Tensor) -> dict[str, Tensor]:
        """Mean log p(x) of held-out rows x [N, *shape] in data space (nats per example, float64)."""
        return {"log_likelihood": self.log_prob(x.double()).mean()}

    def draw(self, n: int, generator: torch.Generator | None = None) -> tuple[Tensor, Tensor]:
        """n draws [n, D] in data space, in float64, and the component of each [n]: a component by weight,
        then mu_k + L_k eps, mapped back through the preprocessing."""
        k = torch.multinomial(self.weights, n, replacement=True, generator=generator)  # [n]
        eps = torch.randn(n, self.means.shape[1], generator=generator, device=self.device, dtype=torch.float64)
        if self.config.covariance == "diag":
            noise = self.covariances[k].sqrt() * eps
        else:
            noise = _correlated(eps, k, self._cholesky())
        return self.preprocessor.inverse(self.means[k] + noise), k

    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """n draws [n, *shape] in the model's dtype, as `draw`."""
        return self.draw(n, generator)[0].to(self.dtype).view(n, *self.shape)


def _correlated(eps: Tensor, k: Tensor, chol: Tensor) -> Tensor:
    """L_k eps_n [n, D] for draws eps [n, D] of components k [n] with Cholesky factors chol [K, D, D].

    One GEMM per drawn component: gathering a [D, D] factor per draw ([n, D, D], 1.2 GB for 256 draws
    at D = 784) made sampling the D = 784 mixture take 15 s per 2,000 draws.
    """
    noise = torch.empty_like(eps)
    for j in k.unique().tolist():
        rows = k == j
        noise[rows] = eps[rows] @ chol[j].T
    return noise


def _split(rows: Tensor) -> tuple[Tensor, Tensor]:
    """Prepared rows [N, F + 1] -> (statistics [N, F], log|det dy/dx| [N])."""
    return rows[:, :-1], rows[:, -1]


def kmeans_plusplus(x: Tensor, k: int) -> Tensor:
    """Row indices [K] of greedy k-means++ seeds of x [N, D] (Arthur & Vassilvitskii 2007): 2 + ln K candidates
    per seed, keeping the one that most lowers the potential, as scikit-learn's `kmeans_plusplus`.

    Draws from torch's global RNG.
    """
    n, trials = x.shape[0], 2 + int(math.log(k))
    seeds = torch.randint(n, (1,), device=x.device)  # [1]
    d2 = (x - x[seeds]).square().sum(1)  # [N] squared distance to the nearest seed
    for _ in range(k - 1):
        probs = d2 if bool(d2.sum() > 0) else torch.ones_like(d2)  # all points equal: pick uniformly
        candidates = torch.multinomial(probs, trials, replacement=True)  # [T]
        d2_if = torch.minimum(d2, torch.cdist(x[candidates], x).square())  # [T, N]
        best = d2_if.sum(1).argmin()
        seeds, d2 = torch.cat([seeds, candidates[best, None]]), d2_if[best]
    return seeds
