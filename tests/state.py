"""Comparing model states: the same tensor names, in the same order, with bit-equal values.

Zipping two state_dicts' values would pass when one of them lacks a tensor, so every
comparison of weights in the tests goes through here.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

State = nn.Module | dict[str, Tensor]


def _tensors(state: State) -> dict[str, Tensor]:
    return state.state_dict() if isinstance(state, nn.Module) else state


def state_differences(a: State, b: State) -> list[str]:
    """What differs between two states: names missing on either side, then tensors that are not bit-equal."""
    sa, sb = _tensors(a), _tensors(b)
    out = [f"{k} only in the first" for k in sa if k not in sb] + [f"{k} only in the second" for k in sb if k not in sa]
    if not out and list(sa) != list(sb):
        out.append("the same tensors in another order")
    return out + [f"{k} differs" for k in sa if k in sb and not torch.equal(sa[k], sb[k])]


def assert_same_state(a: State, b: State, what: str = "") -> None:
    differences = state_differences(a, b)
    assert not differences, f"{what}: " + "; ".join(differences[:5])


def scrambled(model: nn.Module) -> nn.Module:
    """`model` with every floating-point tensor of its state moved by +1, in place: a run that trains
    from these weights instead of loading its checkpoint ends somewhere else."""
    with torch.no_grad():
        for value in model.state_dict().values():
            if value.is_floating_point():
                value.add_(1.0)
    return model
