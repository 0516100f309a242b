"""The data-space RealNVP: exact inverse, log-density against a brute-force Jacobian, normalised, the shared suite."""

from __future__ import annotations

import pytest
import torch
from typer.testing import CliRunner

import gausslab as gl
from gausslab.blocks.coupling import pull_back, push_forward
from gausslab.blocks.priors import StandardNormal
from gausslab.cli import app
from gausslab.core.errors import ConfigError, DataError
from gausslab.models import Flow, build_model
from gausslab.models.preprocess import Logit
from gausslab.training.run_config import resolve
from tests.conftest import tiny_images, tiny_vectors
from tests.models.suite import check_model

TINY = dict(layers=4, hidden=(16, 16))


def perturbed_flow(shape: tuple[int, ...], **options) -> Flow:
    """A float64 flow with non-trivial weights (a fresh one is the identity on the preprocessed data)."""
    model = build_model("flow", shape, **{**TINY, **options}).double()
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.4 * torch.randn(p.shape, generator=g, dtype=p.dtype))
    return model


def to_base(model: Flow, x: torch.Tensor) -> torch.Tensor:
    """x [B, *shape] -> u [B, D], the whole forward map of the flow (preprocessing, then couplings)."""
    return push_forward(model.layers, model.preprocessor.forward(x.flatten(1)).y)[0]


def interior_pixels(n: int, shape: tuple[int, ...]) -> torch.Tensor:
    return torch.rand(n, *shape, generator=torch.Generator().manual_seed(1), dtype=torch.float64)


def test_a_fresh_flow_is_a_standard_normal_on_the_preprocessed_data():
    model = build_model("flow", (3,), **TINY)
    x = torch.randn(5, 3)
    torch.testing.assert_close(model.log_prob(x), StandardNormal(3).log_prob(x))


@pytest.mark.parametrize("shape", [(6,), (1, 3, 4)], ids=["vector", "image-logit"])
def test_the_flow_inverts_to_1e_4(shape):
    model = perturbed_flow(shape)
    x = interior_pixels(300, shape)
    with torch.no_grad():
        u = to_base(model, x)
        assert (u - model.preprocessor.forward(x.flatten(1)).y).abs().max() > 0.1  # the couplings do act
        back = model.preprocessor.inverse(pull_back(model.layers, u)).view_as(x)
    torch.testing.assert_close(back, x, atol=1e-4, rtol=0)


@pytest.mark.parametrize("shape", [(5,), (1, 2, 3)], ids=["vector", "image-logit"])
def test_log_prob_equals_base_density_plus_brute_force_log_det(shape):
    """log p(x) = log N(u; 0, I) + log|det du/dx|, the determinant from autograd's full Jacobian of x -> u."""
    model = perturbed_flow(shape)
    for x in interior_pixels(3, shape):
        jac = torch.autograd.functional.jacobian(lambda v: to_base(model, v.unsqueeze(0))[0], x).flatten(1)  # [D, D]
        with torch.no_grad():
            u = to_base(model, x.unsqueeze(0))
            expected = StandardNormal(u.shape[1]).log_prob(u) + torch.linalg.slogdet(jac).logabsdet
            torch.testing.assert_close(model.log_prob(x.unsqueeze(0)), expected, atol=1e-9, rtol=0)


def grid_mass(model: Flow, low: float, high: float, cells: int = 300) -> tuple[float, torch.Tensor, torch.Tensor]:
    """Midpoint-rule integral of exp(log_prob) over [low, high]^2, and the cell centres [M, 2] and their masses.

    With 300 cells a side the rule's error is far below the tests' tolerance (measured: 4e-8 for the
    vector flow, 3e-7 for the logit one)."""
    edges = torch.linspace(low, high, cells + 1, dtype=torch.float64)
    mids = (edges[1:] + edges[:-1]) / 2
    pts = torch.cartesian_prod(mids, mids)
    with torch.no_grad():
        mass = torch.cat([model.log_prob(c.view(-1, *model.shape)) for c in pts.split(250_000)]).exp()
    mass = mass * (edges[1] - edges[0]) ** 2
    return float(mass.sum()), pts, mass


def logit_support() -> tuple[float, float]:
    edge = 0.05 / 0.9  # logit(0.05 + 0.9 x) is finite on (-edge, 1 + edge)
    return -edge, 1 + edge


@pytest.mark.parametrize(("shape", "box"), [((2,), (-12.0, 12.0)), ((1, 1, 2), logit_support())],
                         ids=["vector", "image-logit"])
def test_log_prob_integrates_to_one_in_2d(shape, box):
    total, _, _ = grid_mass(perturbed_flow(shape), *box)
    assert total == pytest.approx(1.0, abs=1e-5)


def test_samples_follow_log_prob():
    """Mean and covariance of 200k samples match those of exp(log_prob) on a grid (2-D, logit)."""
    model = perturbed_flow((1, 1, 2))
    _, pts, mass = grid_mass(model, *logit_support())
    w = mass / mass.sum()
    mean = w @ pts
    cov = (w.unsqueeze(1) * (pts - mean)).T @ (pts - mean)
    with torch.no_grad():
        s = model.sample(200_000, generator=torch.Generator().manual_seed(2)).flatten(1)
    torch.testing.assert_close(s.mean(0), mean, atol=4e-3, rtol=0)
    torch.testing.assert_close(torch.cov(s.T), cov, atol=4e-3, rtol=0.02)


@pytest.mark.parametrize("make_data", [tiny_vectors, tiny_images], ids=["vectors", "images"])
def test_flow_passes_shared_suite(make_data, tmp_path):
    data = make_data()
    check_model(lambda: build_model("flow", data, **TINY), data, tmp_path)


def test_n_parameters_counts_every_weight():
    model = build_model("flow", (1, 8, 8), layers=2, hidden=(32,))
    per_layer = (64 * 32 + 32) + (32 * 128 + 128)
    assert model.n_parameters == 2 * per_layer


def test_logit_flow_refuses_data_outside_the_pixel_range():
    data = tiny_vectors()  # N(0.5, 1) values, far outside [0, 1]
    with pytest.raises(DataError, match="preprocess=logit"):
        gl.fit(build_model("flow", data, preprocess="logit", **TINY), data, gl.TrainConfig(steps=1))


def test_invalid_flow_settings_name_the_field_without_the_union_tag():
    with pytest.raises(ConfigError, match=r"^model\.layers=0: "):
        resolve({}, ["model.kind=flow", "model.layers=0"])


@pytest.mark.slow
def test_cli_trains_and_evaluates_a_flow_on_digits(tmp_path):
    out = tmp_path / "flow"
    args = ["train", "flow", "--data", "digits", "--set", "train.steps=3", "--set", "model.layers=2",
            "--set", "model.hidden=[16]", "--out", str(out)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    model = gl.load(out)
    assert isinstance(model, Flow) and isinstance(model.preprocessor, Logit)  # auto: logit for images
    assert "valid_log_likelihood" in (out / "log.jsonl").read_text()
    assert (out / "samples.png").exists()
