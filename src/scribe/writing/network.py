"""The trained network run forward in NumPy: what ``scribe write`` samples from.

Sampling is a loop of hundreds of tiny steps, and PyTorch costs more to import
than a whole page takes to write, so writing runs the model with NumPy and the
weights of a model file (:mod:`scribe.writing.stored`) or checkpoint. This mirrors
:mod:`scribe.training.networks` exactly (a test compares the two): the same text encoder, soft
window (Graves eqs. 46-51), decoder stack and mixture head, one step at a time.
Gate order and weight layout are PyTorch's (``i, f, g, o``; ``W_ih``, ``W_hh``).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from scribe.errors import ScribeError, reason
from scribe.ink.alphabet import Alphabet
from scribe.writing.stored import VAE, StoredModel, WriterConfig, read_stored_model


@functools.lru_cache(maxsize=8)
def _gate_scale_and_shift(hidden: int) -> tuple[np.ndarray, np.ndarray]:
    """Per gate unit: 1/2 and 1/2 for the sigmoid gates i, f, o (through tanh), 1 and 0 for g."""
    scale = np.full(4 * hidden, 0.5, np.float32)
    scale[2 * hidden : 3 * hidden] = 1.0
    return scale, 0.5 * (scale != 1.0).astype(np.float32)


class LSTMWeights:
    """One LSTM layer's weights, with input and recurrent matrices stacked for one matmul.

    The last ``cond_dim`` input features (a line's conditioning, constant while it is
    written) are kept apart in ``cond_matrix`` so that their gate input is computed
    once per line instead of at every step.
    """

    def __init__(self, w_ih: np.ndarray, w_hh: np.ndarray, b_ih: np.ndarray, b_hh: np.ndarray, cond_dim: int = 0) -> None:
        self.hidden = w_hh.shape[1]
        self.inputs = w_ih.shape[1] - cond_dim
        self.matrix = np.ascontiguousarray(np.concatenate([w_ih[:, : self.inputs], w_hh], axis=1).T)  # (in + H, 4H)
        # The same, transposed: OpenBLAS multiplies a few rows 20-25% faster as (4H, in + H) @ (in + H, B),
        # measured at batches of 2 to 20 (benchmarks/step_cost.py), and no slower at 1 or 128.
        self.matrix_t = np.ascontiguousarray(self.matrix.T)
        self.cond_matrix = np.ascontiguousarray(w_ih[:, self.inputs :].T)  # (cond_dim, 4H)
        self.bias = b_ih + b_hh

    @classmethod
    def from_state(cls, state: dict[str, np.ndarray], prefix: str, suffix: str = "", cond_dim: int = 0) -> LSTMWeights:
        """Read ``nn.LSTMCell`` (no suffix) or one ``nn.LSTM`` layer/direction (suffix ``_l0``...)."""
        names = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
        w_ih, w_hh, b_ih, b_hh = (state[f"{prefix}{name}{suffix}"] for name in names)
        return cls(w_ih, w_hh, b_ih, b_hh, cond_dim=cond_dim)

    def cell(
        self, x: np.ndarray, h: np.ndarray, c: np.ndarray, cond_gates: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """One step; ``cond_gates`` (B, 4H) is the conditioning's precomputed share of the gates."""
        gates = np.ascontiguousarray((self.matrix_t @ np.concatenate([x, h], axis=1).T).T)  # rows: the in-place work is fast
        gates += self.bias
        if cond_gates is not None:
            gates += cond_gates
        return self._update(gates, c)

    @staticmethod
    def _update(gates: np.ndarray, c: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The new hidden and cell states from the gates' pre-activations (PyTorch's order ``i, f, g, o``).

        One tanh serves all four gates: sigmoid(x) = (1 + tanh(x / 2)) / 2 for i, f
        and o, tanh itself for g, so the gates are scaled, activated, scaled and shifted
        in place. A sampling step is hundreds of these on small arrays, where each NumPy
        call costs more than its arithmetic.
        """
        hidden = gates.shape[-1] // 4
        scale, shift = _gate_scale_and_shift(hidden)
        gates *= scale
        np.tanh(gates, out=gates)
        gates *= scale
        gates += shift
        i, f, g, o = (gates[..., k * hidden : (k + 1) * hidden] for k in range(4))
        c = f * c
        c += i * g
        h = np.tanh(c)
        h *= o
        return h, c

    def run(self, inputs: np.ndarray) -> np.ndarray:
        """The outputs (B, T, H) over a whole sequence (B, T, in), from zero state."""
        return run_side_by_side([self], [inputs])[0]


def run_side_by_side(layers: list[LSTMWeights], inputs: list[np.ndarray]) -> list[np.ndarray]:
    """Each layer over its own sequence (B, T, in), from zero state, in one loop over the steps.

    The inputs' share of the gates is one matmul over every step at once; the
    recurrent shares of all layers are one batched matmul per step, so the two
    directions of a bidirectional layer cost one pass of Python, not two. The
    layers must have one hidden size and the sequences one shape.
    """
    batch, steps, _ = inputs[0].shape
    hidden = layers[0].hidden
    projected = np.stack([x @ layer.matrix[: layer.inputs] + layer.bias for layer, x in zip(layers, inputs)])  # (L, B, T, 4H)
    recurrent = np.stack([layer.matrix[layer.inputs :] for layer in layers])  # (L, H, 4H)
    h = np.zeros((len(layers), batch, hidden), np.float32)
    c = np.zeros_like(h)
    outputs = np.empty((len(layers), batch, steps, hidden), np.float32)
    for t in range(steps):
        h, c = LSTMWeights._update(projected[:, :, t] + h @ recurrent, c)
        outputs[:, :, t] = h
    return list(outputs)


def reverse_within_length(x: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Reverse the first ``lengths[b]`` steps of every sequence of ``x`` (B, T, ...); padding stays put."""
    steps = np.arange(x.shape[1])
    index = np.where(steps < lengths[:, None], lengths[:, None] - 1 - steps, steps)
    return np.take_along_axis(x, index.reshape(*index.shape, *([1] * (x.ndim - 2))), axis=1)


def bidirectional(
    forward: LSTMWeights, backward: LSTMWeights, inputs: np.ndarray, lengths: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Outputs of both directions (B, T, H) over right-padded sequences of ``lengths``."""
    ahead, behind = run_side_by_side([forward, backward], [inputs, reverse_within_length(inputs, lengths)])
    return ahead, reverse_within_length(behind, lengths)


@dataclass
class Mixture:
    """The mixture head's output for one step (NumPy twin of ``scribe.training.networks.MixtureParams``)."""

    pi_logits: np.ndarray  # (B, M)
    mu: np.ndarray  # (B, M, 2)
    log_sigma: np.ndarray  # (B, M, 2)
    rho: np.ndarray  # (B, M)
    pen_logits: np.ndarray  # (B, 1) or (B, 3)


@dataclass
class State:
    """Everything carried from one sampling step to the next."""

    layers: list[tuple[np.ndarray, np.ndarray]]  # (h, c) per layer
    kappa: np.ndarray  # (B, K) window positions
    context: np.ndarray  # (B, D) window reading
    phi: np.ndarray  # (B, U) window weights of the last step
    text: np.ndarray  # (B, U, D) encoded text
    text_mask: np.ndarray  # (B, U) float
    cond_gates: list[np.ndarray] | None  # per layer, the conditioning's (B, 4H) gate input

    def take(self, rows: np.ndarray) -> State:
        """The state of ``rows`` only, as new arrays: a batch whose finished lines left it."""
        return State(
            [(h[rows], c[rows]) for h, c in self.layers], self.kappa[rows], self.context[rows], self.phi[rows],
            self.text[rows], self.text_mask[rows], None if self.cond_gates is None else [g[rows] for g in self.cond_gates],
        )

    def put(self, rows: np.ndarray, source: State, source_rows: np.ndarray) -> None:
        """Overwrite ``rows`` with ``source_rows`` of ``source`` (a line started afresh in a freed row)."""
        for (h, c), (source_h, source_c) in zip(self.layers, source.layers):
            h[rows], c[rows] = source_h[source_rows], source_c[source_rows]
        for name in ("kappa", "context", "phi", "text", "text_mask"):
            getattr(self, name)[rows] = getattr(source, name)[source_rows]
        for gates, source_gates in zip(self.cond_gates or [], source.cond_gates or []):
            gates[rows] = source_gates[source_rows]


class InferenceModel:
    """A trained writing model (Graves or VAE) ready to sample, in NumPy."""

    def __init__(self, model: StoredModel) -> None:
        if not model.kind.writes:
            raise ScribeError(f"this is a {model.kind.name} model, which reads handwriting; writing needs a model that writes")
        assert isinstance(model.config, WriterConfig)  # every kind that writes has a WriterConfig
        self.config: WriterConfig = model.config
        self.is_vae = model.config.kind == VAE
        self.alphabet = model.alphabet
        self.mean, self.std = model.mean, model.std
        self.points_per_char = model.points_per_char or self.config.kappa_scale / 2
        try:
            self._read_weights(model.weights)
        except KeyError as exc:
            raise ScribeError(f"the model's weights lack {exc.args[0]}; the model file is damaged") from exc
        self._check_shapes()
        # Curated at export (the styles that read best); otherwise every learned style, 0 = any writer.
        every_style = list(range(len(self.styles))) if self.styles is not None else []
        self.builtin_styles: list[int] = model.builtin_styles if model.builtin_styles is not None else every_style
        # Measured at export: each built-in style's width per character, in x-heights (for wrapping).
        self.style_advances: list[float] = model.style_advances

    def _check_shapes(self) -> None:
        """Run one step on one character: weights that do not fit the config fail here, not mid-page."""
        outputs = (self.head_w.shape[1], self.window_w.shape[1])
        expected = (6 * self.config.mixtures + self.config.pen_classes, 3 * self.config.window_mixtures)
        if outputs != expected:
            raise ScribeError(
                f"the model's output layers have {outputs} units where its configuration needs {expected}; the file is damaged"
            )
        try:
            with np.errstate(all="raise"):
                ids = np.array([[Alphabet.FIRST_CHAR, Alphabet.END]])
                cond = np.zeros((1, self.cond_dim), np.float32) if self.is_vae else None
                state = self.start(ids, np.ones_like(ids, dtype=bool), cond)
                self.step(np.zeros((1, 3), np.float32), state)
        except (ValueError, IndexError, FloatingPointError) as exc:
            problem = reason(exc)
            raise ScribeError(f"the model's weights do not fit its configuration ({problem}); the file is damaged") from None

    def _read_weights(self, state: dict[str, np.ndarray]) -> None:
        c = self.config
        self.embedding = state["text_encoder.embedding.weight"]
        self.text_forward = LSTMWeights.from_state(state, "text_encoder.lstm.", "_l0")
        self.text_backward = LSTMWeights.from_state(state, "text_encoder.lstm.", "_l0_reverse")
        self.styles = state.get("style_embedding.weight")
        cond = self.cond_dim
        self.first = LSTMWeights.from_state(state, "decoder.first.", cond_dim=cond)
        self.upper = [
            LSTMWeights.from_state(state, f"decoder.upper.{i}.", "_l0", cond_dim=cond) for i in range(c.layers - 1)
        ]
        self.window_w = state["decoder.window.params.weight"].T.copy()
        self.window_b = state["decoder.window.params.bias"]
        self.head_w = state["decoder.head.linear.weight"].T.copy()
        self.head_b = state["decoder.head.linear.bias"]
        if "decoder.initial_state.weight" in state:
            self.initial_w = state["decoder.initial_state.weight"].T.copy()
            self.initial_b = state["decoder.initial_state.bias"]
        if self.is_vae:
            self.stroke_forward = LSTMWeights.from_state(state, "stroke_encoder.forward_lstm.", "_l0")
            self.stroke_backward = LSTMWeights.from_state(state, "stroke_encoder.backward_lstm.", "_l0")
            self.to_latent_w = state["stroke_encoder.to_latent.weight"].T.copy()
            self.to_latent_b = state["stroke_encoder.to_latent.bias"]

    @property
    def cond_dim(self) -> int:
        if self.is_vae:
            return self.config.latent_dim
        return self.config.style_dim if self.styles is not None else 0

    # ------------------------------------------------------------------ conditioning

    def style_vectors(self, style_ids: np.ndarray) -> np.ndarray | None:
        """Writer-style vectors for style indices (0 = any writer); None if the model has none."""
        return None if self.styles is None else self.styles[style_ids]

    def encode_style(self, offsets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """VAE: q(z|x) of one normalized line (T, 3) -> mean and log-variance (each (Z,))."""
        if not self.is_vae:
            raise ScribeError("only a VAE model encodes a style into z; use a VAE model")
        inputs = offsets[None].astype(np.float32)
        # Each direction's state after reading the whole line, as in the model's StrokeEncoder.
        last = np.concatenate([self.stroke_forward.run(inputs)[0, -1], self.stroke_backward.run(inputs[:, ::-1])[0, -1]])
        mu, log_var = np.split(last @ self.to_latent_w + self.to_latent_b, 2)
        return mu, log_var

    # ------------------------------------------------------------------ stepping

    def encode_text(self, text_ids: np.ndarray, text_mask: np.ndarray) -> np.ndarray:
        """(B, U) ids -> (B, U, D): the BiLSTM's directions summed, zero on padding."""
        lengths = np.maximum(text_mask.sum(axis=1), 1)
        ahead, behind = bidirectional(self.text_forward, self.text_backward, self.embedding[text_ids], lengths)
        return (ahead + behind) * text_mask[..., None]

    def start(self, text_ids: np.ndarray, text_mask: np.ndarray, cond: np.ndarray | None = None) -> State:
        """The state before the first point; ``cond`` is z (VAE) or a writer-style vector per line."""
        batch = len(text_ids)
        text = self.encode_text(text_ids, text_mask)
        hidden, layer_count = self.config.hidden, self.config.layers
        if self.is_vae and cond is not None:
            h_c = np.split(np.tanh(cond @ self.initial_w + self.initial_b), 2 * layer_count, axis=1)
            layers = [(h_c[2 * i], h_c[2 * i + 1]) for i in range(layer_count)]
        else:
            zeros = np.zeros((batch, hidden), np.float32)
            layers = [(zeros, zeros) for _ in range(layer_count)]
        if cond is None and self.styles is not None:
            cond = self.style_vectors(np.zeros(batch, dtype=np.int64))  # "any writer"
        cond_gates = None
        if cond is not None and self.cond_dim:
            # The conditioning is appended last to every layer's input and never changes
            # during a line, so its share of the gates is computed once.
            cond_gates = [cond @ layer.cond_matrix for layer in [self.first, *self.upper]]
        kappa = np.zeros((batch, self.config.window_mixtures), np.float32)
        context = np.zeros((batch, text.shape[2]), np.float32)
        phi = np.zeros(text_mask.shape, np.float32)
        return State(layers, kappa, context, phi, text, text_mask.astype(np.float32), cond_gates)

    def window(self, h1: np.ndarray, state: State) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Graves' soft window (eqs. 46-51) -> new kappa, context and phi."""
        params = h1 @ self.window_w + self.window_b  # eq. 48
        k = self.config.window_mixtures
        alpha_hat, beta_hat, kappa_hat = params[:, :k], params[:, k : 2 * k], params[:, 2 * k :]
        kappa = state.kappa + np.exp(kappa_hat) / self.config.kappa_scale  # eq. 51, scaled
        positions = np.arange(state.text.shape[1], dtype=np.float32)
        closeness = kappa[:, :, None] - positions  # (B, K, U), then in place exp(-beta (kappa - u)^2)
        closeness *= closeness
        closeness *= -np.exp(beta_hat)[:, :, None]
        np.exp(closeness, out=closeness)
        phi = np.matmul(np.exp(alpha_hat)[:, None, :], closeness)[:, 0]  # eq. 46: the sum over the K Gaussians
        phi *= state.text_mask
        context = np.matmul(phi[:, None, :], state.text)[:, 0]  # eq. 47
        return kappa, context, phi

    def step(self, point: np.ndarray, state: State) -> tuple[Mixture, State]:
        """One step: the previous point (B, 3), normalized -> the next point's distribution."""
        gates: list[np.ndarray | None] = [*state.cond_gates] if state.cond_gates else [None] * (1 + len(self.upper))
        h, c = self.first.cell(np.concatenate([point, state.context], axis=1), *state.layers[0], gates[0])
        kappa, context, phi = self.window(h, state)
        layers, outputs, below = [(h, c)], [h], h
        for layer, (h0, c0), extra in zip(self.upper, state.layers[1:], gates[1:]):
            below, c_new = layer.cell(np.concatenate([point, context, below], axis=1), h0, c0, extra)
            layers.append((below, c_new))
            outputs.append(below)
        mixture = self.head(np.concatenate(outputs, axis=1))
        return mixture, replace(state, layers=layers, kappa=kappa, context=context, phi=phi)

    def head(self, hidden: np.ndarray) -> Mixture:
        """Mixture and pen parameters (eqs. 17-22) from the concatenated layer outputs."""
        out = hidden @ self.head_w + self.head_b
        m = self.config.mixtures
        pen = self.config.pen_classes
        pen_logits, pi_logits, mu = out[:, :pen], out[:, pen : pen + m], out[:, pen + m : pen + 3 * m]
        log_sigma, rho_hat = out[:, pen + 3 * m : pen + 5 * m], out[:, pen + 5 * m :]
        return Mixture(
            pi_logits=pi_logits,
            mu=mu.reshape(-1, m, 2),
            log_sigma=log_sigma.reshape(-1, m, 2),
            rho=np.tanh(rho_hat) * (1 - 1e-5),  # eq. 22, kept strictly inside (-1, 1)
            pen_logits=pen_logits,
        )


def load_inference_model(path: Path) -> InferenceModel:
    """A model file (``.npz``, no PyTorch needed) or a training checkpoint (``.pth``)."""
    return InferenceModel(read_stored_model(path))
