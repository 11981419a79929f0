"""The two handwriting models: Graves' MDN-LSTM with soft attention, and a SketchRNN-style VAE.

Both write strokes in the format of :mod:`scribe.ink.strokes` (normalized offsets
``[dx, dy, pen_up]``) conditioned on a text, and share their parts:

- :class:`TextEncoder`: character embedding + bidirectional LSTM (directions summed);
- :class:`SoftWindow`: Graves' soft attention window over the encoded text;
- :class:`StrokeDecoder`: an LSTM stack reading the previous point and the window,
  with a bivariate Gaussian mixture for the next offset and a pen head;
- :class:`StrokeEncoder` (VAE only): bidirectional LSTM over a whole line -> q(z|x).

Equation numbers refer to A. Graves, "Generating Sequences With Recurrent Neural
Networks", arXiv:1308.0850 (2013), and D. Ha, D. Eck, "A Neural Representation of
Sketch Drawings", ICLR 2018 (SketchRNN).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from scribe.writing.stored import VAE, WriterConfig


class TextEncoder(nn.Module):
    """Characters -> one vector per character; forward and backward LSTM outputs summed."""

    def __init__(self, config: WriterConfig) -> None:
        super().__init__()
        self.embedding = nn.Embedding(config.vocab_size, config.embed_dim, padding_idx=0)
        self.lstm = nn.LSTM(config.embed_dim, config.encoder_dim, batch_first=True, bidirectional=True)
        self.dim = config.encoder_dim

    def forward(self, text_ids: Tensor, text_mask: Tensor) -> Tensor:
        lengths = text_mask.sum(dim=1).clamp(min=1).cpu()
        packed = nn.utils.rnn.pack_padded_sequence(
            self.embedding(text_ids), lengths, batch_first=True, enforce_sorted=False
        )
        output, _ = self.lstm(packed)
        output, _ = nn.utils.rnn.pad_packed_sequence(output, batch_first=True, total_length=text_ids.shape[1])
        return output[..., : self.dim] + output[..., self.dim :]


@dataclass
class WindowState:
    """The attention window after a step: its positions and the context it read."""

    kappa: Tensor  # (B, K) positions of the window's Gaussians, in characters
    context: Tensor  # (B, D) w_t, eq. 47
    phi: Tensor | None = None  # (B, U) weights over the characters, for diagnostics


class SoftWindow(nn.Module):
    """Graves' soft window (eqs. 46-51): a mixture of K Gaussians sliding over the text.

    Positions only move forward: kappa_t = kappa_{t-1} + exp(kappa_hat) / kappa_scale.
    """

    def __init__(self, hidden: int, config: WriterConfig) -> None:
        super().__init__()
        self.params = nn.Linear(hidden, 3 * config.window_mixtures)
        self.kappa_scale = config.kappa_scale
        self.mixtures = config.window_mixtures

    def initial(self, text: Tensor) -> WindowState:
        batch = text.shape[0]
        return WindowState(
            kappa=text.new_zeros(batch, self.mixtures), context=text.new_zeros(batch, text.shape[2])
        )

    def forward(self, h1: Tensor, previous: WindowState, text: Tensor, text_mask: Tensor) -> WindowState:
        alpha_hat, beta_hat, kappa_hat = self.params(h1).chunk(3, dim=-1)  # eq. 48
        alpha = alpha_hat.exp()  # eq. 49
        beta = beta_hat.exp()  # eq. 50
        kappa = previous.kappa + kappa_hat.exp() / self.kappa_scale  # eq. 51, scaled
        positions = torch.arange(text.shape[1], device=text.device, dtype=h1.dtype)
        distance = kappa.unsqueeze(-1) - positions  # (B, K, U)
        phi = (alpha.unsqueeze(-1) * torch.exp(-beta.unsqueeze(-1) * distance.square())).sum(dim=1)  # eq. 46
        phi = phi * text_mask
        context = torch.bmm(phi.unsqueeze(1), text).squeeze(1)  # eq. 47
        return WindowState(kappa=kappa, context=context, phi=phi)


@dataclass
class MixtureParams:
    """Raw outputs of the mixture density head, for one or many steps (eqs. 17-22)."""

    pi_logits: Tensor  # (..., M)
    mu: Tensor  # (..., M, 2)
    log_sigma: Tensor  # (..., M, 2)
    rho: Tensor  # (..., M), in (-1, 1)
    pen_logits: Tensor  # (..., 1) Bernoulli logit of pen up, or (..., 3) pen-state logits


class MixtureHead(nn.Module):
    """Linear map from the decoder's hidden states to the mixture and pen parameters."""

    def __init__(self, in_dim: int, config: WriterConfig) -> None:
        super().__init__()
        self.mixtures = config.mixtures
        self.pen_classes = config.pen_classes
        self.linear = nn.Linear(in_dim, 6 * config.mixtures + config.pen_classes)

    def forward(self, hidden: Tensor) -> MixtureParams:
        out = self.linear(hidden)
        m = self.mixtures
        pen_logits, pi_logits, mu, log_sigma, rho_hat = out.split([self.pen_classes, m, 2 * m, 2 * m, m], dim=-1)
        shape = (*out.shape[:-1], m, 2)
        return MixtureParams(
            pi_logits=pi_logits,
            mu=mu.reshape(shape),
            log_sigma=log_sigma.reshape(shape),
            rho=torch.tanh(rho_hat) * (1 - 1e-5),  # eq. 22, kept strictly inside (-1, 1)
            pen_logits=pen_logits,
        )


@dataclass
class DecoderState:
    """Everything the decoder carries from one sampling step to the next."""

    layers: list[tuple[Tensor, Tensor]]  # (h, c) per layer, each (B, H)
    window: WindowState
    text: Tensor  # encoded text (B, U, D)
    text_mask: Tensor  # (B, U)
    cond: Tensor | None  # per-line conditioning (VAE latent or writer style), (B, C)


@dataclass
class DecoderOutput:
    params: MixtureParams
    phi: Tensor  # (B, T, U) attention weights over the text
    kappa: Tensor  # (B, T, K) window positions


class StrokeDecoder(nn.Module):
    """Autoregressive LSTM stack over strokes, reading the text through the soft window.

    Layer 1 sees the previous point and the previous window; the window is computed
    from layer 1's output; every later layer sees the point, the window and the layer
    below (skip connections), and all layers feed the output (Graves, section 5).
    Only layer 1 and the window depend on each other step by step, so training runs
    them in a Python loop and every other layer as one fused ``nn.LSTM`` call.
    Sampling runs the same network step by step in NumPy (:mod:`scribe.writing.network`).
    """

    def __init__(self, config: WriterConfig) -> None:
        super().__init__()
        text_dim, hidden, cond_dim = config.encoder_dim, config.hidden, config.cond_dim
        self.first = nn.LSTMCell(3 + text_dim + cond_dim, hidden)
        self.window = SoftWindow(hidden, config)
        self.upper = nn.ModuleList(
            nn.LSTM(3 + text_dim + cond_dim + hidden, hidden, batch_first=True) for _ in range(config.layers - 1)
        )
        self.head = MixtureHead(hidden * config.layers, config)
        # SketchRNN sets the initial state from z; writer styles act through the inputs only.
        self.initial_state = nn.Linear(cond_dim, 2 * hidden * config.layers) if config.kind == VAE else None
        self.hidden = hidden
        self.layer_count = config.layers

    def start(self, text: Tensor, text_mask: Tensor, cond: Tensor | None = None) -> DecoderState:
        """The state before the first point: zeros, or set by the VAE's z (SketchRNN's z -> h0)."""
        batch = text.shape[0]
        if self.initial_state is not None and cond is not None:
            h_c = torch.tanh(self.initial_state(cond)).chunk(2 * self.layer_count, dim=-1)
            layers = [(h_c[2 * i], h_c[2 * i + 1]) for i in range(self.layer_count)]
        else:
            zeros = text.new_zeros(batch, self.hidden)
            layers = [(zeros, zeros) for _ in range(self.layer_count)]
        return DecoderState(layers, self.window.initial(text), text, text_mask.to(text.dtype), cond)

    def _with_cond(self, parts: list[Tensor], cond: Tensor | None, steps: int | None = None) -> Tensor:
        if cond is not None:
            parts.append(cond if steps is None else cond.unsqueeze(1).expand(-1, steps, -1))
        return torch.cat(parts, dim=-1)

    def forward(self, inputs: Tensor, state: DecoderState) -> DecoderOutput:
        """Teacher-forced pass over ``inputs`` (B, T, 3), starting from ``state``."""
        steps = inputs.shape[1]
        h, c = state.layers[0]
        window = state.window
        first_out, contexts, phis, kappas = [], [], [], []
        for t in range(steps):
            h, c = self.first(self._with_cond([inputs[:, t], window.context], state.cond), (h, c))
            window = self.window(h, window, state.text, state.text_mask)
            first_out.append(h)
            contexts.append(window.context)
            phis.append(window.phi)
            kappas.append(window.kappa)
        below = torch.stack(first_out, dim=1)
        context = torch.stack(contexts, dim=1)
        outputs = [below]
        for layer, (h0, c0) in zip(self.upper, state.layers[1:]):
            layer_input = self._with_cond([inputs, context, below], state.cond, steps)
            below, _ = layer(layer_input, (h0.unsqueeze(0).contiguous(), c0.unsqueeze(0).contiguous()))
            outputs.append(below)
        params = self.head(torch.cat(outputs, dim=-1))
        return DecoderOutput(params, torch.stack(phis, dim=1), torch.stack(kappas, dim=1))


def reverse_within_length(x: Tensor, lengths: Tensor) -> Tensor:
    """Reverse the first ``lengths[b]`` steps of every sequence of ``x`` (B, T, ...); padding stays put."""
    steps = torch.arange(x.shape[1], device=x.device)
    index = torch.where(steps < lengths[:, None], lengths[:, None] - 1 - steps, steps)
    return x.gather(1, index.view(*index.shape, *([1] * (x.dim() - 2))).expand_as(x))


class StrokeEncoder(nn.Module):
    """SketchRNN's encoder: bidirectional LSTM over a whole line -> mean and log-variance of z.

    The two directions are separate fused LSTMs over the right-padded batch, the
    backward one reading each line reversed within its length: packed sequences
    take a per-step path on the CPU whose backward pass is ~20x slower on lines of
    hundreds of points.
    """

    def __init__(self, config: WriterConfig) -> None:
        super().__init__()
        self.forward_lstm = nn.LSTM(3, config.stroke_encoder_dim, batch_first=True)
        self.backward_lstm = nn.LSTM(3, config.stroke_encoder_dim, batch_first=True)
        self.to_latent = nn.Linear(2 * config.stroke_encoder_dim, 2 * config.latent_dim)

    def forward(self, offsets: Tensor, mask: Tensor) -> tuple[Tensor, Tensor]:
        lengths = mask.sum(dim=1).clamp(min=1)
        rows = torch.arange(len(offsets), device=offsets.device)
        forward_out, _ = self.forward_lstm(offsets)
        backward_out, _ = self.backward_lstm(reverse_within_length(offsets, lengths))
        last = torch.cat([forward_out[rows, lengths - 1], backward_out[rows, lengths - 1]], dim=-1)
        mu, log_var = self.to_latent(last).chunk(2, dim=-1)
        return mu, log_var


@dataclass
class ModelOutput:
    decoder: DecoderOutput
    mu: Tensor | None = None  # VAE posterior mean (B, Z)
    log_var: Tensor | None = None  # VAE posterior log-variance (B, Z)


class HandwritingModel(nn.Module):
    """Text + previous points -> distribution of the next point.

    ``kind="graves"`` is Graves' synthesis network, optionally with learned writer
    styles (``config.styles``) read by the decoder at every step; ``kind="vae"`` adds
    SketchRNN's stroke encoder, and the decoder is conditioned on z at every step and
    in its initial state, so z carries the style while the text carries the content.
    """

    def __init__(self, config: WriterConfig) -> None:
        super().__init__()
        self.config = config
        self.text_encoder = TextEncoder(config)
        self.is_vae = config.kind == VAE
        self.stroke_encoder = StrokeEncoder(config) if self.is_vae else None
        has_styles = not self.is_vae and config.styles > 0
        self.style_embedding = nn.Embedding(config.styles + 1, config.style_dim) if has_styles else None
        self.decoder = StrokeDecoder(config)

    def style(self, style_ids: Tensor) -> Tensor | None:
        """Writer-style vectors (B, style_dim) for style indices (B,); 0 is "any writer"."""
        return None if self.style_embedding is None else self.style_embedding(style_ids)

    def start(self, text_ids: Tensor, text_mask: Tensor, cond: Tensor | None = None) -> DecoderState:
        """The decoder state before the first point; ``cond`` is z (VAE) or :meth:`style`."""
        return self.decoder.start(self.text_encoder(text_ids, text_mask), text_mask, cond)

    def encode_style(self, offsets: Tensor, mask: Tensor) -> tuple[Tensor, Tensor]:
        """q(z|x) of a line (VAE only): mean and log-variance."""
        if self.stroke_encoder is None:
            raise ValueError("only the VAE encodes styles")
        return self.stroke_encoder(offsets, mask)

    def forward(
        self, offsets: Tensor, offsets_mask: Tensor, text_ids: Tensor, text_mask: Tensor, style_ids: Tensor | None = None
    ) -> ModelOutput:
        """Teacher forcing: predict ``offsets[:, 1:]`` from ``offsets[:, :-1]``.

        ``style_ids`` (B,) pick writer styles (Graves with styles); None means "any writer".
        """
        mu = log_var = None
        if self.stroke_encoder is not None:
            mu, log_var = self.stroke_encoder(offsets, offsets_mask)
            cond = mu + torch.randn_like(mu) * torch.exp(0.5 * log_var) if self.training else mu
        elif self.style_embedding is not None:
            if style_ids is None:
                style_ids = torch.zeros(len(offsets), dtype=torch.long, device=offsets.device)
            cond = self.style(style_ids)
        else:
            cond = None
        state = self.start(text_ids, text_mask, cond)
        return ModelOutput(self.decoder(offsets[:, :-1], state), mu, log_var)
