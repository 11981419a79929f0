"""Training losses: mixture-density NLL, pen loss and the VAE's KL term.

Equation numbers refer to Graves (2013), arXiv:1308.0850, and SketchRNN (Ha & Eck, 2018).
All terms are summed over the real (unpadded) points of a sequence; callers average
over sequences.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from scribe.training.networks import MixtureParams

LOG_2PI = math.log(2 * math.pi)

PEN_DOWN, PEN_UP, PEN_END = 0, 1, 2  # the VAE's pen states (SketchRNN's p1, p2, p3)


def mixture_log_density(params: MixtureParams, xy: Tensor) -> Tensor:
    """log sum_j pi_j N(xy | mu_j, sigma_j, rho_j), eqs. 23-25, via log-sum-exp.

    ``xy`` is (..., 2); the result has the shape of ``xy`` without its last axis.
    """
    log_pi = F.log_softmax(params.pi_logits, dim=-1)  # eq. 19
    z = (xy.unsqueeze(-2) - params.mu) * torch.exp(-params.log_sigma)  # standardized, (..., M, 2)
    zx, zy = z.unbind(-1)
    rho = params.rho
    one_minus_rho2 = 1 - rho.square()
    quadratic = (zx.square() + zy.square() - 2 * rho * zx * zy) / one_minus_rho2  # eq. 25
    log_normal = -LOG_2PI - params.log_sigma.sum(-1) - 0.5 * torch.log(one_minus_rho2) - 0.5 * quadratic  # eq. 24
    return torch.logsumexp(log_pi + log_normal, dim=-1)


def pen_states(pen_up: Tensor, mask: Tensor) -> Tensor:
    """SketchRNN's three pen classes from the ``pen_up`` column: the last real point is 'end'."""
    states = pen_up.round().long().clamp(0, 1)
    last = mask.long().sum(dim=1) - 1
    states[torch.arange(len(states), device=states.device), last.clamp(min=0)] = PEN_END
    return states


def pen_nll(params: MixtureParams, pen_up: Tensor, mask: Tensor) -> Tensor:
    """Per-point pen loss: Bernoulli (eq. 26's end-of-stroke term) or 3-way categorical."""
    logits = params.pen_logits
    if logits.shape[-1] == 1:
        return F.binary_cross_entropy_with_logits(logits.squeeze(-1), pen_up, reduction="none")
    return F.cross_entropy(logits.transpose(1, 2), pen_states(pen_up, mask), reduction="none")


@dataclass
class SequenceLoss:
    """Loss terms summed per sequence, shape (B,), and the points they cover."""

    xy_nll: Tensor
    pen_nll: Tensor
    points: Tensor  # real points per sequence (float)

    @property
    def nll(self) -> Tensor:
        """Negative log-likelihood of each sequence in nats (eq. 26)."""
        return self.xy_nll + self.pen_nll


def sequence_nll(params: MixtureParams, targets: Tensor, mask: Tensor) -> SequenceLoss:
    """NLL of ``targets`` (B, T, 3) under ``params``, masked over padding."""
    weights = mask.to(targets.dtype)
    xy = -mixture_log_density(params, targets[..., :2]) * weights
    pen = pen_nll(params, targets[..., 2], mask) * weights
    return SequenceLoss(xy.sum(dim=1), pen.sum(dim=1), weights.sum(dim=1))


def kl_divergence(mu: Tensor, log_var: Tensor) -> Tensor:
    """KL(N(mu, sigma^2) || N(0, I)) per sequence, summed over latent dimensions (SketchRNN eq. 5)."""
    return -0.5 * (1 + log_var - mu.square() - log_var.exp()).sum(dim=-1)


def kl_penalty(kl: Tensor, free_bits: float) -> Tensor:
    """The KL term SketchRNN optimizes: no gradient below ``free_bits`` nats per sequence."""
    return torch.clamp(kl, min=free_bits)


def ctc_loss(log_probs: Tensor, frame_lengths: Tensor, targets: list[Tensor], blank: int) -> Tensor:
    """Connectionist temporal classification loss per line (Graves et al., ICML 2006), shape (B,).

    ``log_probs`` (B, T, C) are per-frame log-probabilities, ``targets`` the label ids
    of each line (no blanks). A line too short to emit its labels costs 0 instead of
    infinity (it carries no usable gradient).
    """
    target_lengths = torch.tensor([len(t) for t in targets], dtype=torch.long)
    return F.ctc_loss(
        log_probs.transpose(0, 1).float(),
        torch.cat(targets).to(log_probs.device),
        frame_lengths.cpu(),
        target_lengths,
        blank=blank,
        reduction="none",
        zero_infinity=True,
    )
