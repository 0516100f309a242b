"""The VAE with every prior and objective passes the shared model suite; the Monte Carlo KL path is unbiased."""

from __future__ import annotations

import pytest
import torch
from torch.distributions import Normal

from gausslab.training.run_config import resolve
from gausslab.models import build_model
from gausslab.blocks.priors import PRIORS, StandardNormal
from tests.conftest import tiny_images, tiny_vectors
from tests.models.suite import check_model

TINY = dict(latent_dim=2, hidden=(16,), prior_components=3, flow_layers=2)
OBJECTIVES = {"elbo": {}, "iwae": {"objective": "iwae", "iwae_k": 3}}


@pytest.mark.parametrize("make_data", [tiny_images, tiny_vectors], ids=["images", "vectors"])
@pytest.mark.parametrize("prior", sorted(PRIORS))
@pytest.mark.parametrize("objective", sorted(OBJECTIVES))
def test_vae_passes_shared_suite(objective, prior, make_data, tmp_path):
    data = make_data()
    options = {**TINY, **OBJECTIVES[objective]}
    check_model(lambda: build_model("vae", data, seed=0, prior=prior, **options), data, tmp_path)


def test_prior_is_chosen_by_run_config_override():
    config = resolve(overrides=["model.prior=vamp", "model.prior_components=4"])
    model = build_model(config.model, (1, 8, 8), latent_dim=2, hidden=(16,))
    assert type(model.prior).__name__ == "VampPrior"
    assert model.prior.pseudo_inputs.shape == (4, 1, 8, 8)


def test_vamp_prior_does_not_duplicate_encoder_weights():
    model = build_model("vae", (1, 8, 8), prior="vamp", **TINY)
    prior_keys = [k for k in model.state_dict() if k.startswith("prior.")]
    assert prior_keys == ["prior.pseudo_inputs"]
    assert sum(p.numel() for p in model.parameters()) == sum(v.numel() for v in model.state_dict().values())


class _MonteCarloStandardNormal(StandardNormal):
    """N(0, I) that hides its closed-form KL, forcing the VAE's Monte Carlo path."""

    def kl(self, q: Normal) -> None:
        return None


def test_monte_carlo_kl_agrees_in_expectation_with_closed_form():
    model = build_model("vae", tiny_vectors(), prior="standard", **TINY)
    x = tiny_vectors().train[:4]
    with torch.no_grad():
        q = model.encode(x)
        z = q.sample((20_000,))  # [S, B, D]
        closed, per_unit = model.kl(q, z[0])
        model.prior = _MonteCarloStandardNormal(2)
        mc, none = model.kl(Normal(q.loc.expand_as(z), q.scale.expand_as(z)), z)  # [S, B]
    assert per_unit is not None and none is None
    se = mc.std(0) / 20_000**0.5
    assert ((mc.mean(0) - closed).abs() < 4 * se + 1e-4).all(), (mc.mean(0), closed)


def test_a_mixture_prior_learns_at_its_own_multiple_of_the_learning_rate():
    model = build_model("vae", tiny_vectors(), prior="mog", **TINY)
    (groups,) = [opt.param_groups for opt in model.optimizers(2e-3).values()]
    assert [g["lr"] for g in groups] == [2e-3, 2e-3 * model.prior.lr_scale] and model.prior.lr_scale == 10
    assert {id(p) for p in groups[1]["params"]} == {id(p) for p in model.prior.parameters()}
    assert sorted(map(id, groups[0]["params"] + groups[1]["params"])) == sorted(map(id, model.parameters()))
    standard = build_model("vae", tiny_vectors(), prior="vamp", **TINY).optimizers(2e-3)
    assert [g["lr"] for g in standard["model"].param_groups] == [2e-3]


def test_more_kl_samples_keep_the_estimate_unbiased_and_cut_its_gradient_noise():
    data = tiny_vectors()
    x = data.train[:1]
    grads, values = {}, {}
    for samples in (1, 16):
        model = build_model("vae", data, prior="standard", kl_samples=samples, **TINY)
        model.prior = _MonteCarloStandardNormal(2)
        with torch.no_grad():
            q0 = model.encode(x)
        closed = StandardNormal(2).kl(q0).sum(-1)
        torch.manual_seed(0)
        grads[samples], values[samples] = [], []
        for _ in range(400):
            loc = q0.loc.clone().requires_grad_(True)
            q = Normal(loc, q0.scale)
            kl, _ = model.kl(q, q.rsample())
            kl.sum().backward()
            grads[samples].append(loc.grad.clone())
            values[samples].append(kl.detach())
        values[samples] = torch.cat(values[samples])
        se = values[samples].std() / 400**0.5
        assert (values[samples].mean() - closed).abs() < 4 * se  # unbiased for the closed-form KL
    noise = {s: torch.stack(g).var(0).sum() for s, g in grads.items()}
    assert noise[16] < noise[1] / 4, noise
