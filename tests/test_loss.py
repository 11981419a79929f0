"""The losses against direct evaluation of their formulas, and their gradients."""

from __future__ import annotations

import math

import torch

from scribe.training.losses import (
    PEN_DOWN,
    PEN_END,
    PEN_UP,
    kl_divergence,
    mixture_log_density,
    pen_states,
    sequence_nll,
)
from scribe.training.networks import MixtureParams


def bivariate_normal(x: float, y: float, mx: float, my: float, sx: float, sy: float, rho: float) -> float:
    """Graves eq. 24-25 written out term by term."""
    zx, zy = (x - mx) / sx, (y - my) / sy
    z = zx**2 + zy**2 - 2 * rho * zx * zy
    return math.exp(-z / (2 * (1 - rho**2))) / (2 * math.pi * sx * sy * math.sqrt(1 - rho**2))


def hand_made_params() -> tuple[MixtureParams, list[tuple[float, ...]], list[float]]:
    components = [(0.5, -1.0, 0.8, 1.5, 0.3), (-2.0, 0.25, 2.0, 0.5, -0.6), (1.0, 1.0, 1.0, 1.0, 0.0)]
    weights = [0.2, 0.5, 0.3]
    params = MixtureParams(
        pi_logits=torch.log(torch.tensor(weights, dtype=torch.float64)) + 3.0,  # softmax ignores the shift
        mu=torch.tensor([[c[0], c[1]] for c in components], dtype=torch.float64),
        log_sigma=torch.log(torch.tensor([[c[2], c[3]] for c in components], dtype=torch.float64)),
        rho=torch.tensor([c[4] for c in components], dtype=torch.float64),
        pen_logits=torch.tensor([0.7], dtype=torch.float64),
    )
    return params, components, weights


def test_mixture_density_matches_the_formula() -> None:
    params, components, weights = hand_made_params()
    for x, y in [(0.0, 0.0), (0.4, -1.2), (-3.0, 2.0), (5.0, 5.0)]:
        expected = sum(w * bivariate_normal(x, y, *c) for w, c in zip(weights, components))
        got = mixture_log_density(params, torch.tensor([x, y], dtype=torch.float64)).item()
        assert math.isclose(got, math.log(expected), rel_tol=1e-9, abs_tol=1e-9)


def test_mixture_density_is_stable_far_from_every_component() -> None:
    params, _, _ = hand_made_params()
    far = mixture_log_density(params, torch.tensor([1e4, -1e4], dtype=torch.float64))
    assert torch.isfinite(far) and far < -1e6


def test_sequence_nll_adds_pen_bce_and_ignores_padding() -> None:
    params, components, weights = hand_made_params()
    batched = MixtureParams(*(t.expand(1, 3, *t.shape) for t in vars(params).values()))
    targets = torch.tensor([[[0.4, -1.2, 1.0], [0.0, 0.0, 0.0], [99.0, 99.0, 1.0]]], dtype=torch.float64)
    mask = torch.tensor([[True, True, False]])
    loss = sequence_nll(batched, targets, mask)
    p_up = 1 / (1 + math.exp(-0.7))
    expected_xy = -sum(
        math.log(sum(w * bivariate_normal(x, y, *c) for w, c in zip(weights, components))) for x, y in [(0.4, -1.2), (0, 0)]
    )
    assert math.isclose(loss.xy_nll.item(), expected_xy, rel_tol=1e-9)
    assert math.isclose(loss.pen_nll.item(), -math.log(p_up) - math.log(1 - p_up), rel_tol=1e-9)
    assert loss.points.item() == 2


def test_pen_states_mark_lifts_and_the_end() -> None:
    pen_up = torch.tensor([[0.0, 1.0, 0.0, 1.0, 0.0], [0.0, 0.0, 1.0, 0.0, 0.0]])
    mask = torch.tensor([[True, True, True, True, False], [True, True, True, True, True]])
    states = pen_states(pen_up, mask)
    assert states[0, :4].tolist() == [PEN_DOWN, PEN_UP, PEN_DOWN, PEN_END]
    assert states[1].tolist() == [PEN_DOWN, PEN_DOWN, PEN_UP, PEN_DOWN, PEN_END]


def test_kl_divergence_matches_closed_form() -> None:
    mu = torch.tensor([[0.5, -1.0]])
    log_var = torch.tensor([[0.2, -0.3]])
    expected = sum(0.5 * (math.exp(lv) + m**2 - 1 - lv) for m, lv in [(0.5, 0.2), (-1.0, -0.3)])
    assert math.isclose(kl_divergence(mu, log_var).item(), expected, rel_tol=1e-6)
    assert kl_divergence(torch.zeros(1, 4), torch.zeros(1, 4)).item() == 0.0
