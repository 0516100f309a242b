"""RealNVP couplings: exact inverses, log-determinants equal to the brute-force Jacobian's, masks as documented."""

from __future__ import annotations

import pytest
import torch

from gausslab.blocks.coupling import AffineCoupling, alternating_couplings, checkerboard, pull_back, push_forward


def perturbed_stack(dim: int, layers: int = 4, hidden=(8, 8)) -> torch.nn.ModuleList:
    """A float64 coupling stack with non-trivial weights (zero-initialised ones would be the identity)."""
    torch.manual_seed(0)
    stack = alternating_couplings(checkerboard((dim,)), layers, hidden, zero_init=True).double()
    with torch.no_grad():
        for p in stack.parameters():
            p.add_(0.5 * torch.randn_like(p))
    return stack


def test_checkerboard_alternates_along_every_axis():
    assert checkerboard((5,)).tolist() == [1, 0, 1, 0, 1]
    board = checkerboard((2, 2, 3)).view(2, 2, 3)
    assert board[0].tolist() == [[1, 0, 1], [0, 1, 0]]
    assert torch.equal(board[1], 1 - board[0])  # the next channel starts on the other colour


def test_masks_alternate_so_every_unit_is_transformed():
    stack = alternating_couplings(checkerboard((6,)), 3, 4)
    masks = [layer.mask for layer in stack]
    assert torch.equal(masks[0], 1 - masks[1]) and torch.equal(masks[0], masks[2])


def test_zero_init_starts_at_the_identity():
    stack = alternating_couplings(checkerboard((6,)), 3, 4, zero_init=True)
    z = torch.randn(10, 6)
    u, log_det = push_forward(stack, z)
    assert torch.equal(u, z) and torch.equal(log_det, torch.zeros(10))


def test_integer_hidden_means_two_layers_of_that_width():
    widths = [m.out_features for m in AffineCoupling(checkerboard((4,)), 16).net if hasattr(m, "out_features")]
    assert widths == [16, 16, 8]


def test_pull_back_inverts_push_forward():
    stack = perturbed_stack(7)
    z = 3 * torch.randn(200, 7, dtype=torch.float64)
    with torch.no_grad():
        u, _ = push_forward(stack, z)
        assert (u - z).abs().max() > 0.1  # the stack does transform
        torch.testing.assert_close(pull_back(stack, u), z, atol=1e-10, rtol=0)


@pytest.mark.parametrize("dim", [2, 5])
def test_log_det_equals_the_brute_force_jacobian(dim):
    stack = perturbed_stack(dim)
    for z in torch.randn(4, dim, dtype=torch.float64):
        jac = torch.autograd.functional.jacobian(lambda v: push_forward(stack, v)[0], z)  # [D, D]
        _, log_det = push_forward(stack, z)
        torch.testing.assert_close(log_det, torch.linalg.slogdet(jac).logabsdet, atol=1e-10, rtol=0)
