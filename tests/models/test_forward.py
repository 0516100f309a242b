"""`model(x)`: the per-example terms each model's training loss is built from, computed independently here."""

import pytest
import torch
from torch import nn

from gausslab.models import MODELS, build_model
from gausslab.models.gan_losses import GAN_LOSSES


def test_every_registered_model_defines_forward():
    for kind, cls in MODELS.items():
        assert cls.forward is not nn.Module.forward, f"{kind} has no forward"


def test_vae_forward_gives_the_elbo_terms_its_loss_uses(images):
    model = build_model("vae", images, latent_dim=3, hidden=(16,))
    x = images.train[:8]
    torch.manual_seed(0)
    terms = model(x)
    torch.manual_seed(0)  # the same posterior draw z
    loss = next(model.training_losses(x, step=0))
    assert terms.elbo.shape == (8,)
    torch.testing.assert_close(terms.elbo, terms.recon - terms.kl)
    torch.testing.assert_close(loss.value, terms.kl.mean() - terms.recon.mean())  # beta = 1, no warm-up


@pytest.mark.parametrize("data_name", ["images", "vectors"])
def test_gan_forward_scores_each_packed_group(data_name, request):
    data = request.getfixturevalue(data_name)
    model = build_model("gan", data, pack=2, hidden=(8,), d_hidden=(8,), arch="mlp")
    x = data.train[:7]  # the 7th row does not fill a pack: dropped, as in training
    scores = model(x)
    groups = [x[i : i + 2].reshape(1, 2 * data.shape[0], *data.shape[1:]) for i in (0, 2, 4)]
    expected = torch.cat([model.discriminator(g).reshape(1) for g in groups])
    torch.testing.assert_close(scores, expected)
    # The discriminator's training loss is the GAN loss of these scores on real rows and on fakes.
    real = x[:6]
    torch.manual_seed(0)
    loss = next(model.training_losses(real, step=0))
    torch.manual_seed(0)  # the same base draw z
    fake = model.generate(torch.randn(6, model.config.latent_dim))
    torch.testing.assert_close(loss.value, GAN_LOSSES["ns"].d_loss(model(real), model(fake)))

def test_gmm_forward_is_the_log_likelihood_em_raises(vectors):
    from gausslab.training.fitting import fit_gmm

    model = fit_gmm(vectors, steps=3, components=2)
    x = vectors.train
    log_px = model(x)
    # Brute force: log sum_k w_k N(x; mu_k, Sigma_k) with torch.distributions, in float64.
    comps = torch.distributions.MultivariateNormal(model.means, model.covariances)
    brute = torch.logsumexp(comps.log_prob(x.double().unsqueeze(1)) + model.weights.log(), dim=1)
    torch.testing.assert_close(log_px.double(), brute, rtol=1e-5, atol=1e-5)
    loss = next(model.training_losses(model.prepare(x), step=3))  # loss before this EM update
    torch.testing.assert_close(loss.value, -brute.mean(), rtol=1e-9, atol=1e-9)
