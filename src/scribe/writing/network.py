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
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from threadpoolctl import ThreadpoolController

from scribe.errors import ScribeError, reason
from scribe.ink.alphabet import Alphabet
from scribe.ink.strokes import DEFAULT_SIMPLIFY_EPS
from scribe.writing.stored import VAE, StoredModel, WriterConfig, read_stored_model


@functools.lru_cache(maxsize=1)
def _blas() -> ThreadpoolController:
    """The BLAS libraries NumPy loaded, found once (threadpoolctl: OpenBLAS, MKL, BLIS, Accelerate)."""
    return ThreadpoolController()


@contextmanager
def one_blas_thread() -> Iterator[None]:
    """Within: BLAS computes each product on one thread, the caller's.

    Sampling multiplies small matrices hundreds of times a line. OpenBLAS's own
    threads spin while they wait for each other: with one other program busy on a
    2-core machine, a 20-line page took 3-20 s instead of 1.5 s. On an idle machine
    they made the page about 30% faster; a page that never stalls is worth more.
    A product's bits also depend on how many threads share it, so on one thread the
    same seed gives the same ink on any machine with the same BLAS: everything that
    decides the ink runs within (sampling, the text encoder, style encoding, verified
    writing's reader); as a decorator it covers one call of a function. The limit is
    the process's: threads that write at the same time share it, and the first to
    leave lifts it for the others.
    """
    with _blas().limit(limits=1, user_api="blas"):
        yield


@functools.lru_cache(maxsize=8)
def _gate_prescale(hidden: int) -> np.ndarray:
    """Per gate unit (PyTorch's order ``i, f, g, o``): 1/2 for the sigmoid gates i, f, o, 1 for g.

    sigmoid(x) = (1 + tanh(x / 2)) / 2, so one tanh activates all four gates once the
    sigmoid gates' pre-activations are halved; halving is exact in floating point, so
    it is folded into the weights and biases once instead of done at every step.
    """
    scale = np.full(4 * hidden, 0.5, np.float32)
    scale[2 * hidden : 3 * hidden] = 1.0
    return scale


@functools.lru_cache(maxsize=8)
def _gate_scale_and_shift(hidden: int) -> tuple[np.ndarray, np.ndarray]:
    """Per gate unit, as a column: 1/2 and 1/2 turn tanh(x / 2) into sigmoid(x) for i, f, o; 1 and 0 keep g's tanh."""
    scale = _gate_prescale(hidden)[:, None]
    return scale, 0.5 * (scale != 1.0).astype(np.float32)


def lstm_update(gates: np.ndarray, c: np.ndarray, h: np.ndarray) -> None:
    """Activate ``gates`` (..., 4H, B) in place, update the cell state ``c`` (..., H, B) in place and write ``h``.

    The gates are gate-major (a gate's units are one block of rows, each line one
    column) and pre-scaled (:func:`_gate_prescale`). A sampling step is hundreds of
    these on small arrays, where each NumPy call costs more than its arithmetic, so
    nothing is allocated: the input gate's block holds i * g once it is used.
    """
    hidden = gates.shape[-2] // 4
    scale, shift = _gate_scale_and_shift(hidden)
    np.tanh(gates, out=gates)
    gates *= scale
    gates += shift
    n = hidden  # four slices written out: a generator of them cost a tenth of the update at batch 1
    i, f, g, o = gates[..., :n, :], gates[..., n : 2 * n, :], gates[..., 2 * n : 3 * n, :], gates[..., 3 * n :, :]
    c *= f
    i *= g
    c += i
    np.tanh(c, out=h)
    h *= o


class LSTMWeights:
    """One LSTM layer's weights, gate-major (``(4H, ...)``, PyTorch's layout) with the sigmoid gates' rows halved.

    The last ``cond_dim`` input features (a line's conditioning, constant while it is
    written) are kept apart in ``cond_matrix`` so that their gate input is computed
    once per line instead of at every step.
    """

    def __init__(self, w_ih: np.ndarray, w_hh: np.ndarray, b_ih: np.ndarray, b_hh: np.ndarray, cond_dim: int = 0) -> None:
        self.hidden = w_hh.shape[1]
        self.inputs = w_ih.shape[1] - cond_dim
        prescale = _gate_prescale(self.hidden)
        self.input_matrix = np.ascontiguousarray(w_ih[:, : self.inputs] * prescale[:, None])  # (4H, in)
        self.recurrent_matrix = np.ascontiguousarray(w_hh * prescale[:, None])  # (4H, H)
        self.cond_matrix = np.ascontiguousarray(w_ih[:, self.inputs :] * prescale[:, None])  # (4H, cond_dim)
        self.bias = (b_ih + b_hh) * prescale  # (4H,)

    @classmethod
    def from_state(cls, state: dict[str, np.ndarray], prefix: str, suffix: str = "", cond_dim: int = 0) -> LSTMWeights:
        """Read ``nn.LSTMCell`` (no suffix) or one ``nn.LSTM`` layer/direction (suffix ``_l0``...)."""
        names = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
        w_ih, w_hh, b_ih, b_hh = (state[f"{prefix}{name}{suffix}"] for name in names)
        return cls(w_ih, w_hh, b_ih, b_hh, cond_dim=cond_dim)

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
    # (L, T, 4H, B): every step's gate input from the sequence, gate-major like the recurrent share.
    projected = np.stack([(x @ layer.input_matrix.T + layer.bias).transpose(1, 2, 0) for layer, x in zip(layers, inputs)])
    recurrent = np.stack([layer.recurrent_matrix for layer in layers])  # (L, 4H, H)
    outputs = np.zeros((len(layers), steps + 1, hidden, batch), np.float32)  # step t's h at t + 1; zero state at 0
    c = np.zeros((len(layers), hidden, batch), np.float32)
    for t in range(steps):
        lstm_update(projected[:, t] + recurrent @ outputs[:, t], c, outputs[:, t + 1])
    return list(np.ascontiguousarray(outputs[:, 1:].transpose(0, 3, 1, 2)))


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


@dataclass(frozen=True)
class Columns:
    """Where the decoder's inputs lie in a line's column of :attr:`State.columns`: ``[h1, point, context, h2 ... hL]``.

    In this order every layer's inputs are one run of rows: layer 1 reads its hidden
    state, the point and the window (``h1, point, context``), layer 2 those and its
    own (``h1 ... h2``: h1 is the layer below), layer 3 ``point ... h3`` (h2 below).
    A deeper layer reads the same run and gives the rows between a zero weight. So
    each layer is one matmul on a slice, with no copying of its inputs together.
    """

    hidden: int
    text_dim: int
    layers: int

    @property
    def point(self) -> slice:
        return slice(self.hidden, self.hidden + 3)

    @property
    def context(self) -> slice:
        return slice(self.hidden + 3, self.hidden + 3 + self.text_dim)

    @property
    def size(self) -> int:
        return max(self.context.stop, self.hidden_of(self.layers - 1).stop)

    def hidden_of(self, layer: int) -> slice:
        """The rows of layer ``layer``'s hidden state (0 is the first layer)."""
        start = 0 if layer == 0 else self.context.stop + (layer - 1) * self.hidden
        return slice(start, start + self.hidden)

    def read_by(self, layer: int) -> slice:
        """The run of rows layer ``layer`` multiplies by its weights."""
        start = self.hidden if layer >= 2 else 0
        return slice(start, max(self.context.stop, self.hidden_of(layer).stop))

    def place(self, layer: int, weights: LSTMWeights) -> np.ndarray:
        """``weights`` as one matrix over :meth:`read_by`'s rows: point, context, the layer below, its own state."""
        read = self.read_by(layer)
        matrix = np.zeros((4 * self.hidden, read.stop - read.start), np.float32)
        inputs = weights.input_matrix  # its columns: the point, the context, then (above layer 1) the layer below
        blocks = [(self.point, inputs[:, :3]), (self.context, inputs[:, 3 : 3 + self.text_dim])]
        if layer:
            blocks.append((self.hidden_of(layer - 1), inputs[:, 3 + self.text_dim :]))
        for rows, block in [*blocks, (self.hidden_of(layer), weights.recurrent_matrix)]:
            matrix[:, rows.start - read.start : rows.stop - read.start] = block
        return matrix


@dataclass
class State:
    """Everything carried from one sampling step to the next, one column (or row, for the window) per line."""

    columns: np.ndarray  # (F, B) float32: the decoder's inputs and hidden states, laid out by ``layout``
    cells: np.ndarray  # (L, H, B) the layers' cell states
    gate_offsets: np.ndarray  # (L, 4H, B) each layer's bias plus the conditioning's share of its gates
    kappa: np.ndarray  # (B, K) window positions
    phi: np.ndarray  # (B, U) window weights of the last step
    text: np.ndarray  # (B, U, D) encoded text
    text_mask: np.ndarray  # (B, U) float
    layout: Columns
    gates: np.ndarray = field(init=False, repr=False)  # (4H, B) the layer being stepped's gates, reused
    positions: np.ndarray = field(init=False, repr=False)  # (U,) the text's positions 0, 1, ... for the window

    def __post_init__(self) -> None:
        self.gates = np.empty((4 * self.layout.hidden, self.columns.shape[1]), np.float32)
        self.positions = np.arange(self.text.shape[1], dtype=np.float32)

    @property
    def context(self) -> np.ndarray:
        """(B, D) the window's reading of the text."""
        return self.columns[self.layout.context].T

    def take(self, rows: np.ndarray) -> State:
        """The state of ``rows`` only, as new arrays: a batch whose finished lines left it.

        ``np.take`` keeps the per-line columns C-ordered; indexing the last axis
        (``columns[:, rows]``) gives Fortran order, and every step's elementwise work
        then mixed layouts with the C-ordered gates: 2.3 ms of a 9.5 ms step at 100 lines.
        """
        columns, cells, gate_offsets = (np.take(array, rows, axis=-1) for array in (self.columns, self.cells, self.gate_offsets))
        return State(columns, cells, gate_offsets, self.kappa[rows], self.phi[rows], self.text[rows], self.text_mask[rows],
                     self.layout)

    def joined(self, other: State) -> State:
        """This batch's lines followed by ``other``'s, as new arrays: lines joining a batch."""
        columns, cells, gate_offsets = (np.concatenate([mine, theirs], axis=-1) for mine, theirs in
                                        zip((self.columns, self.cells, self.gate_offsets),
                                            (other.columns, other.cells, other.gate_offsets)))
        kappa, phi, text, text_mask = (np.concatenate([getattr(self, name), getattr(other, name)])
                                       for name in ("kappa", "phi", "text", "text_mask"))
        return State(columns, cells, gate_offsets, kappa, phi, text, text_mask, self.layout)

    def put(self, rows: np.ndarray, source: State, source_rows: np.ndarray) -> None:
        """Overwrite ``rows`` with ``source_rows`` of ``source`` (a line started afresh in a freed row)."""
        self.columns[:, rows] = source.columns[:, source_rows]
        self.cells[:, :, rows] = source.cells[:, :, source_rows]
        self.gate_offsets[:, :, rows] = source.gate_offsets[:, :, source_rows]
        for name in ("kappa", "phi", "text", "text_mask"):
            getattr(self, name)[rows] = getattr(source, name)[source_rows]


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
        self.simplified_at = model.simplified_at or DEFAULT_SIMPLIFY_EPS  # models from before it was recorded: the default
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
                self._assemble()
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

    def _assemble(self) -> None:
        """The decoder as it steps: each layer's weights placed over its run of :class:`Columns`, and the head's."""
        c = self.config
        self.layout = Columns(c.hidden, c.encoder_dim, c.layers)
        self.decoder_layers = [self.first, *self.upper]
        layout = self.layout
        self.decoder = [(layout.place(k, layer), layout.read_by(k), layout.hidden_of(k))
                        for k, layer in enumerate(self.decoder_layers)]
        self.head_matrix = np.zeros((layout.size, self.head_w.shape[1]), np.float32)  # zero for the point and the window
        for k in range(layout.layers):
            self.head_matrix[layout.hidden_of(k)] = self.head_w[k * c.hidden : (k + 1) * c.hidden]

    @property
    def char_width(self) -> float:
        """The ink width of a typical character, in dataset units: its points times the mean step right."""
        return self.points_per_char * float(self.mean[0])

    @property
    def cond_dim(self) -> int:
        if self.is_vae:
            return self.config.latent_dim
        return self.config.style_dim if self.styles is not None else 0

    # ------------------------------------------------------------------ conditioning

    @functools.cached_property
    def style_prior(self) -> tuple[np.ndarray, np.ndarray] | None:
        """A Gaussian fitted to the writer styles it learned (row 0, "any writer", left out): mean, Cholesky factor.

        None for a model with fewer than two styles. New hands are drawn from it
        (:mod:`scribe.writing.styles`): training made the style table close to
        N(0, I), and a fitted Gaussian follows whatever shape it took.
        """
        if self.styles is None or len(self.styles) < 3:
            return None
        learned = self.styles[1:].astype(np.float64)
        covariance = np.cov(learned, rowvar=False) + 1e-6 * np.eye(learned.shape[1])
        return learned.mean(axis=0), np.linalg.cholesky(covariance)

    def style_vectors(self, style_ids: np.ndarray) -> np.ndarray | None:
        """Writer-style vectors for style indices (0 = any writer); None if the model has none."""
        return None if self.styles is None else self.styles[style_ids]

    @one_blas_thread()
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
        batch, layout = len(text_ids), self.layout
        text = self.encode_text(text_ids, text_mask)
        columns = np.zeros((layout.size, batch), np.float32)
        cells = np.zeros((layout.layers, layout.hidden, batch), np.float32)
        if self.is_vae and cond is not None:
            h_c = np.split(np.tanh(cond @ self.initial_w + self.initial_b), 2 * layout.layers, axis=1)
            for k in range(layout.layers):
                columns[layout.hidden_of(k)], cells[k] = h_c[2 * k].T, h_c[2 * k + 1].T
        if cond is None and self.styles is not None:
            cond = self.style_vectors(np.zeros(batch, dtype=np.int64))  # "any writer"
        # The conditioning is appended last to every layer's input and never changes
        # during a line, so its share of the gates is computed once, with the bias.
        gate_offsets = np.stack([np.repeat(layer.bias[:, None], batch, axis=1) for layer in self.decoder_layers])
        if cond is not None and self.cond_dim:
            gate_offsets += np.stack([layer.cond_matrix @ cond.T for layer in self.decoder_layers])
        kappa = np.zeros((batch, self.config.window_mixtures), np.float32)
        phi = np.zeros(text_mask.shape, np.float32)
        return State(columns, cells, gate_offsets, kappa, phi, text, text_mask.astype(np.float32), layout)

    def window(self, state: State) -> None:
        """Graves' soft window (eqs. 46-51) from layer 1's new state: new kappa, phi and context, in ``state``."""
        params = np.matmul(state.columns[self.layout.hidden_of(0)].T, self.window_w)  # eq. 48
        params += self.window_b
        k = self.config.window_mixtures
        alpha_hat, beta_hat, kappa_hat = params[:, :k], params[:, k : 2 * k], params[:, 2 * k :]
        state.kappa = state.kappa + np.exp(kappa_hat) / self.config.kappa_scale  # eq. 51, scaled
        closeness = state.kappa[:, :, None] - state.positions  # (B, K, U), then exp(-beta (kappa - u)^2)
        closeness *= closeness
        closeness *= -np.exp(beta_hat)[:, :, None]
        np.exp(closeness, out=closeness)
        state.phi = np.matmul(np.exp(alpha_hat)[:, None, :], closeness)[:, 0]  # eq. 46: the sum over the K Gaussians
        state.phi *= state.text_mask
        state.columns[self.layout.context] = np.matmul(state.phi[:, None, :], state.text)[:, 0].T  # eq. 47

    def step(self, point: np.ndarray, state: State) -> Mixture:
        """One step: the previous point (B, 3), normalized -> the next point's distribution; ``state`` moves on in place."""
        columns, gates = state.columns, state.gates
        columns[self.layout.point] = point.T
        for k, (matrix, read, hidden) in enumerate(self.decoder):
            np.matmul(matrix, columns[read], out=gates)
            gates += state.gate_offsets[k]
            lstm_update(gates, state.cells[k], columns[hidden])
            if k == 0:
                self.window(state)
        return self.head(columns)

    def head(self, columns: np.ndarray) -> Mixture:
        """Mixture and pen parameters (eqs. 17-22) from the layers' hidden states in ``columns``."""
        out = np.matmul(columns.T, self.head_matrix)
        out += self.head_b
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
