"""Sampling handwriting from a trained model, all lines of a batch at once.

Each step draws the next offset from the mixture with Graves' sampling bias b
(eqs. 61-62: sigma = exp(sigma_hat - b), pi = softmax(pi_hat * (1 + b))) and the
pen state from its Bernoulli (or, for the VAE, categorical) head. A line ends
when its attention window has moved past the last character onto the
end-of-text position (and the pen has just lifted), or at a cap on steps per
character that stops lines that never get there.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from scribe.checkpoint import LoadedModel
from scribe.data import Alphabet, denormalize, normalize
from scribe.loss import PEN_END
from scribe.model import MixtureParams

MAX_STEPS_PER_CHARACTER = 40  # a character takes ~11 points at the default simplification


@dataclass
class SampledLine:
    """One generated line: offsets in dataset units (y up) and how sampling ended."""

    offsets: np.ndarray  # float32 (T, 3) [dx, dy, pen_up]
    text: str
    finished: bool  # True when the window passed the end of the text; False when the cap stopped it
    steps: int


def encode_texts(alphabet: Alphabet, texts: list[str]) -> tuple[Tensor, Tensor]:
    """Padded text ids (B, L) with their end-of-text ids, and the mask of real positions."""
    encoded = [torch.tensor(alphabet.encode(text), dtype=torch.long) for text in texts]
    ids = torch.nn.utils.rnn.pad_sequence(encoded, batch_first=True, padding_value=Alphabet.PAD)
    lengths = torch.tensor([len(e) for e in encoded])
    return ids, torch.arange(ids.shape[1])[None, :] < lengths[:, None]


def sample_offsets(params: MixtureParams, bias: float, temperature: float, generator: torch.Generator) -> Tensor:
    """Draw (B, 2) offsets from a batch of bivariate mixtures (eqs. 61-62 for the bias)."""
    pi = torch.softmax(params.pi_logits * (1 + bias) / temperature, dim=-1)
    component = torch.multinomial(pi, 1, generator=generator).squeeze(-1)
    rows = torch.arange(len(component))
    mu = params.mu[rows, component]
    sigma = torch.exp(params.log_sigma[rows, component] - bias) * temperature**0.5
    rho = params.rho[rows, component]
    normal = torch.randn(len(component), 2, generator=generator, dtype=mu.dtype)
    dx = mu[:, 0] + sigma[:, 0] * normal[:, 0]
    dy = mu[:, 1] + sigma[:, 1] * (rho * normal[:, 0] + torch.sqrt(1 - rho.square()) * normal[:, 1])
    return torch.stack([dx, dy], dim=-1)


def sample_pen(params: MixtureParams, generator: torch.Generator) -> tuple[Tensor, Tensor]:
    """Draw the pen flag (B,) and whether the model ended the line itself (VAE's 'end' state)."""
    logits = params.pen_logits
    if logits.shape[-1] == 1:
        up = torch.bernoulli(torch.sigmoid(logits.squeeze(-1)), generator=generator)
        return up, torch.zeros_like(up, dtype=torch.bool)
    state = torch.multinomial(torch.softmax(logits, dim=-1), 1, generator=generator).squeeze(-1)
    return (state != 0).to(logits.dtype), state == PEN_END


@torch.no_grad()
def sample_lines(
    loaded: LoadedModel,
    texts: list[str],
    *,
    bias: float = 0.0,
    temperature: float = 1.0,
    seed: int = 0,
    z: Tensor | None = None,
    max_steps_per_character: int = MAX_STEPS_PER_CHARACTER,
) -> list[SampledLine]:
    """Write every text of ``texts`` as one line, all in one batch; each line stops on its own."""
    model = loaded.model
    device = next(model.parameters()).device
    generator = torch.Generator().manual_seed(seed)
    text_ids, text_mask = encode_texts(loaded.alphabet, texts)
    text_ids, text_mask = text_ids.to(device), text_mask.to(device)
    end_index = text_mask.sum(dim=1) - 1  # position of each line's end-of-text id
    batch = len(texts)
    state = model.start(text_ids, text_mask, z)
    # Row 0 of every training line is the origin (0, 0), seen through the normalization.
    origin = normalize(np.zeros((1, 3), np.float32), loaded.mean, loaded.std)
    point = torch.from_numpy(origin).to(device).expand(batch, 3)
    done = torch.zeros(batch, dtype=torch.bool)
    finished = torch.zeros(batch, dtype=torch.bool)
    steps = torch.zeros(batch, dtype=torch.long)
    limit = (end_index.cpu() * max_steps_per_character).clamp(min=max_steps_per_character)
    points: list[Tensor] = []
    for _ in range(int(limit.max())):
        params, state = model.decoder.step(point, state)
        params = MixtureParams(*(t.float().cpu() for t in vars(params).values()))
        xy = sample_offsets(params, bias, temperature, generator)
        pen_up, model_ended = sample_pen(params, generator)
        focus = state.window.phi.cpu().argmax(dim=-1)
        past_text = (focus >= end_index.cpu()) & (pen_up > 0)
        ending = ~done & (past_text | model_ended | (steps + 1 >= limit))
        finished |= ~done & (past_text | model_ended)
        pen_up = torch.where(ending, torch.ones_like(pen_up), pen_up)
        step_point = torch.cat([xy, pen_up[:, None]], dim=-1)
        points.append(torch.where(done[:, None], torch.zeros_like(step_point), step_point))
        steps += (~done).long()
        done |= ending
        if bool(done.all()):
            break
        point = step_point.to(device)
    stacked = torch.stack(points, dim=1).numpy() if points else np.zeros((batch, 0, 3), np.float32)
    lines = []
    for i, text in enumerate(texts):
        offsets = np.concatenate([np.zeros((1, 3), np.float32), denormalize(stacked[i, : int(steps[i])], loaded.mean, loaded.std)])
        lines.append(SampledLine(offsets, text, bool(finished[i]), int(steps[i])))
    return lines
