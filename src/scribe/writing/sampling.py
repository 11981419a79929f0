"""Sampling handwriting from a trained model, all lines of a page in one batch.

Each step draws the next offset from the mixture with Graves' sampling bias b
(eqs. 61-62: sigma = exp(sigma_hat - b), pi = softmax(pi_hat * (1 + b))) and the
pen state from its Bernoulli (or, for the VAE, categorical) head. A line ends
when its attention window has moved past the last character onto the
end-of-text position and the pen has just lifted; a pen that keeps writing
there is stopped after a few characters' worth of points, and a cap on steps per
character stops lines that never get there.

Sampling can fail in ways a reader sees at once: a line that runs on past its
text or adds a mark after it, collapses into a scribble, skips letters or gets
stuck on one, or writes a letter that reads as another.
:func:`write_lines` checks every line against the attention window's path
(:func:`line_problems`) and resamples the failed ones with new seeds; given a
recognizer (:mod:`scribe.writing.reader`) it also reads every line back and
draws several candidates of each misread one in one batch, keeping the one that
reads closest to its text (verified writing).

Runs on :mod:`scribe.writing.network` (NumPy), so writing never imports PyTorch.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from numbers import Real

import numpy as np
from rapidfuzz.distance import Levenshtein

from scribe.errors import ScribeError
from scribe.ink.alphabet import Alphabet
from scribe.ink.strokes import denormalize, normalize, offsets_to_points
from scribe.progress import ProgressFn, no_progress
from scribe.writing.network import InferenceModel, Mixture
from scribe.writing.reader import InkReader, fold_look_alikes

MAX_ATTEMPTS = 10  # beyond a few rounds a doubtful line stays doubtful
DEFAULT_ATTEMPTS = 3  # samplings of a line, the first included, before a doubtful one is kept
MAX_CANDIDATES = 16  # candidates of a line drawn in one round of verified writing
DEFAULT_CANDIDATES = 1  # see docs/model-card.md for the measurement that chose it
MISREAD_ROUNDS = 2  # rounds a line that reads wrong gets, the first included
BIAS_RANGE = (-1.0, 20.0)  # above -1 (the mixture weights are scaled by 1 + bias), at most 20: past it nothing changes
TEMPERATURE_RANGE = (0.01, 10.0)  # inclusive: colder is a stiff copy of the mean, hotter is noise
DEFAULT_BIAS = 1.0  # Graves' sampling bias; 1.0 read best on held-out texts (docs/model-card.md)
MAX_STEPS_PER_CHARACTER = 40  # a character takes ~11 points at the default simplification
PEN_END = 2  # the VAE's "end of sequence" pen state
RESEED_STRIDE = 1_000_003  # resampling round r uses seed + r * RESEED_STRIDE
# line_problems thresholds, relative to the model's typical points per character.
SKIPPED_FRACTION = 0.2  # more unvisited letters than this fraction is a failure
DWELL_FACTOR = 5.0  # the window resting on one character this many times its usual time
WIDTH_RANGE = (0.35, 1.8)  # ink width per character, relative to the training data's
MAX_POINTS_FACTOR = 2.0  # points per character, relative to the training data's
MAX_FOCUS_SETBACK = 4  # characters the window's focus may fall back behind its furthest point
# The last stroke normally reaches the end-of-text position only as it finishes; one
# drawn wholly past it is cut off (without_trailing_marks), one drawn mostly past it
# is an extra mark to resample. A pen that never lifts there is stopped.
TRAILING_FACTOR = 0.75  # points of the last stroke past the text, in characters' worth
RUN_ON_FACTOR = 3.0  # points past the text after which sampling stops the line


@dataclass
class Conditioning:
    """Who writes: at most one of a writer style, a VAE latent, or priming ink.

    ``prime_offsets`` are a real line in the dataset's units (the stroke format of
    :mod:`scribe.ink.strokes`) and ``prime_text`` what it says: the model reads them
    first (Graves, section 5.5) and continues in their style.
    """

    style_id: int | None = None
    z: np.ndarray | None = None
    prime_offsets: np.ndarray | None = None
    prime_text: str = ""


@dataclass(frozen=True)
class SamplingOptions:
    """How lines are drawn: Graves' bias, a temperature, who writes, and the runaway cap."""

    bias: float = DEFAULT_BIAS
    temperature: float = 1.0
    conditioning: Conditioning = field(default_factory=Conditioning)
    max_steps_per_character: int = MAX_STEPS_PER_CHARACTER

    def __post_init__(self) -> None:
        """Refuse numbers that would write NaN or garbage (a NaN bias draws NaN ink, a negative temperature no ink)."""
        low, high = BIAS_RANGE
        if isinstance(self.bias, bool) or not (isinstance(self.bias, Real) and low < self.bias <= high):  # NaN fails these
            raise ScribeError(
                f"`bias` {self.bias!r} must be above {low:g} and at most {high:g} (0: the model's own spread; higher: neater)"
            )
        low, high = TEMPERATURE_RANGE
        if isinstance(self.temperature, bool) or not (isinstance(self.temperature, Real) and low <= self.temperature <= high):
            raise ScribeError(f"`temperature` {self.temperature!r} must be from {low:g} to {high:g}, e.g. 1")


@dataclass
class SampledLine:
    """One generated line: offsets in dataset units (y up) and how sampling went."""

    offsets: np.ndarray  # float32 (T, 3) [dx, dy, pen_up], row 0 the origin
    text: str
    finished: bool  # True when the window passed the end of the text; False when the cap stopped it
    steps: int
    focus: np.ndarray  # int (steps,): the character the window weighed most at each step
    problems: list[str] = field(default_factory=list)
    reading: str | None = None  # what the recognizer read in the ink (verified writing only)
    misread: int = 0  # edits between the text and the reading, look-alikes folded (0 when not verified)

    @property
    def rank(self) -> tuple[int, int]:
        """Lower is better: how far the ink reads from the text, then the window's objections."""
        return self.misread, len(self.problems)


def encode_texts(alphabet: Alphabet, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Padded text ids (B, L) with their end-of-text ids, and the mask of real positions."""
    encoded = [alphabet.encode(text) for text in texts]
    width = max(len(e) for e in encoded)
    ids = np.full((len(texts), width), Alphabet.PAD, dtype=np.int64)
    for row, e in zip(ids, encoded):
        row[: len(e)] = e
    return ids, ids != Alphabet.PAD


def _softmax(logits: np.ndarray) -> np.ndarray:
    shifted = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return shifted / shifted.sum(axis=-1, keepdims=True)


def _categorical(probabilities: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One draw per row of (B, N) probabilities."""
    draws = rng.random((len(probabilities), 1))
    return np.minimum((probabilities.cumsum(axis=1) < draws).sum(axis=1), probabilities.shape[1] - 1)


def sample_offsets(mixture: Mixture, bias: float, temperature: float, rng: np.random.Generator) -> np.ndarray:
    """Draw (B, 2) offsets from a batch of bivariate mixtures (eqs. 61-62 for the bias)."""
    component = _categorical(_softmax(mixture.pi_logits * (1 + bias) / temperature), rng)
    rows = np.arange(len(component))
    mu = mixture.mu[rows, component]
    sigma = np.exp(mixture.log_sigma[rows, component] - bias) * temperature**0.5
    rho = mixture.rho[rows, component]
    normal = rng.standard_normal((len(component), 2))
    dx = mu[:, 0] + sigma[:, 0] * normal[:, 0]
    dy = mu[:, 1] + sigma[:, 1] * (rho * normal[:, 0] + np.sqrt(1 - rho**2) * normal[:, 1])
    return np.stack([dx, dy], axis=-1).astype(np.float32)


def sample_pen(mixture: Mixture, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Draw the pen flag (B,) and whether the model ended the line itself (the VAE's 'end' state)."""
    logits = mixture.pen_logits
    if logits.shape[-1] == 1:
        up = (rng.random(len(logits)) < 1 / (1 + np.exp(-logits[:, 0]))).astype(np.float32)
        return up, np.zeros(len(logits), dtype=bool)
    state = _categorical(_softmax(logits), rng)
    return (state != 0).astype(np.float32), state == PEN_END


def _start(model: InferenceModel, texts: list[str], conditioning: Conditioning) -> tuple:
    """The decoder state after reading any priming ink, the window's end positions, and the text offset."""
    prefix = conditioning.prime_text + " " if conditioning.prime_offsets is not None else ""
    alphabet = Alphabet(model.alphabet)
    text_ids, text_mask = encode_texts(alphabet, [prefix + text for text in texts])
    batch = len(texts)
    cond = None
    if conditioning.z is not None:
        cond = np.repeat(np.asarray(conditioning.z, np.float32)[None], batch, axis=0)
    elif conditioning.style_id is not None:
        cond = model.style_vectors(np.full(batch, conditioning.style_id))
    state = model.start(text_ids, text_mask, cond)
    # Row 0 of every training line is the origin (0, 0), seen through the normalization.
    point = np.repeat(normalize(np.zeros((1, 3), np.float32), model.mean, model.std), batch, axis=0)
    if conditioning.prime_offsets is not None:
        prime = normalize(conditioning.prime_offsets, model.mean, model.std)
        for row in prime:
            _, state = model.step(point, state)
            point = np.repeat(row[None], batch, axis=0)
    return state, point, text_mask.sum(axis=1) - 1, len(prefix)


def sample_lines(
    model: InferenceModel,
    texts: list[str],
    options: SamplingOptions = SamplingOptions(),
    *,
    seed: int = 0,
    progress: ProgressFn = no_progress,
) -> list[SampledLine]:
    """Write every text of ``texts`` as one line, all in one batch; each line stops on its own."""
    rng = np.random.default_rng(seed)
    bias, temperature = options.bias, options.temperature
    state, point, end_index, prefix = _start(model, texts, options.conditioning)
    batch = len(texts)
    done = np.zeros(batch, dtype=bool)
    finished = np.zeros(batch, dtype=bool)
    steps = np.zeros(batch, dtype=np.int64)
    cap = options.max_steps_per_character
    limit = np.maximum((end_index - prefix) * cap, cap)
    run_on = int(RUN_ON_FACTOR * model.points_per_char)
    steps_past_text = np.zeros(batch, dtype=np.int64)
    # A stroke of one point is a dot; under 1% of the data's strokes are, but a pen
    # lift sampled on a stroke's first point turns a "t" bar into one ("the" reads
    # "lhe"), so every stroke gets at least two points.
    lifted = np.zeros(batch, dtype=bool)
    points, focuses = [], []
    for _ in range(int(limit.max())):
        mixture, state = model.step(point, state)
        xy = sample_offsets(mixture, bias, temperature, rng)
        pen_up, model_ended = sample_pen(mixture, rng)
        pen_up = np.where(lifted, 0.0, pen_up).astype(np.float32)  # no one-point strokes
        focus = state.phi.argmax(axis=1)
        steps_past_text += focus >= end_index
        past_text = (focus >= end_index) & (pen_up > 0)
        ending = ~done & (past_text | model_ended | (steps + 1 >= limit) | (steps_past_text >= run_on))
        finished |= ~done & (past_text | model_ended)
        pen_up = np.where(ending, 1.0, pen_up).astype(np.float32)
        point = np.concatenate([xy, pen_up[:, None]], axis=1)
        lifted = pen_up > 0
        points.append(np.where(done[:, None], 0.0, point))
        focuses.append(focus - prefix)
        steps += ~done
        newly_done = int(ending.sum())
        done |= ending
        if newly_done:
            progress(int(done.sum()), batch)
        if done.all():
            break
    stacked = np.stack(points, axis=1).astype(np.float32)
    focus_paths = np.stack(focuses, axis=1)
    lines = []
    for i, text in enumerate(texts):
        drawn = denormalize(stacked[i, : steps[i]], model.mean, model.std)
        offsets = np.concatenate([np.zeros((1, 3), np.float32), drawn])
        line = SampledLine(offsets, text, bool(finished[i]), int(steps[i]), focus_paths[i, : steps[i]])
        lines.append(without_trailing_marks(line))
    return lines


def _last_stroke_start(line: SampledLine) -> int:
    """The step at which the line's last stroke begins (0 when the line is one stroke)."""
    pen_up = line.offsets[1:-1, 2] > 0  # row k + 1 is step k; the last row always lifts the pen
    lifts = np.flatnonzero(pen_up)
    return int(lifts[-1]) + 1 if len(lifts) else 0


def _is_trailing_mark(line: SampledLine, start: int) -> bool:
    """Whether the stroke from step ``start`` on is a stray mark after the written text.

    Once the window has passed the last character the text is written. A stroke
    begun after that which goes back over the ink is a delayed part of a letter (the
    bar of a final "t", the dot of an "i") and stays; one wholly to the right of
    everything written is a stray mark (a tick after "dog.", a dot after "!").
    """
    if start == 0 or not (line.focus[start:] >= len(line.text)).all():
        return False
    x = offsets_to_points(line.offsets)[:, 0]  # row k + 1 is where step k puts the pen
    return bool(x[start + 1 :].min() > x[1 : start + 1].max())


def without_trailing_marks(line: SampledLine) -> SampledLine:
    """``line`` without the stray marks after its text (:func:`_is_trailing_mark`)."""
    start = _last_stroke_start(line)
    while _is_trailing_mark(line, start):
        line = SampledLine(line.offsets[: start + 1], line.text, line.finished, start, line.focus[:start])
        start = _last_stroke_start(line)
    return line


def trailing_points(line: SampledLine) -> int:
    """Points of the line's last stroke drawn while the window was already past the text."""
    return int((line.focus[_last_stroke_start(line) :] >= len(line.text)).sum())


def line_problems(line: SampledLine, model: InferenceModel) -> list[str]:
    """What a reader would see is wrong with ``line``, judged from its ink and the window's path."""
    problems = []
    if not line.finished:
        problems.append("did not reach the end of its text")
    letters = [i for i, ch in enumerate(line.text) if not ch.isspace()]
    visited = set(line.focus.tolist())
    skipped = [i for i in letters if i not in visited]
    if letters and len(skipped) > SKIPPED_FRACTION * len(letters):
        problems.append(f"skipped {len(skipped)} of {len(letters)} letters")
    if len(line.focus):
        dwell = np.bincount(np.clip(line.focus, 0, None)).max()
        if dwell > DWELL_FACTOR * model.points_per_char + 10:
            problems.append(f"stuck on one letter for {dwell} points")
    trailing = trailing_points(line)
    if trailing > TRAILING_FACTOR * model.points_per_char:
        problems.append(f"drew {trailing} points past the end of its text")
    if line.steps > MAX_POINTS_FACTOR * max(len(line.text), 1) * model.points_per_char:
        problems.append(f"took {line.steps} points for {len(line.text)} characters")
    if len(line.focus) and (setback := int((np.maximum.accumulate(line.focus) - line.focus).max())) > MAX_FOCUS_SETBACK:
        problems.append(f"lost its place: the window fell back {setback} letters")
    width = np.ptp(offsets_to_points(line.offsets)[:, 0]) if len(line.offsets) else 0.0
    typical = max(len(line.text), 1) * model.points_per_char * float(model.mean[0])
    if typical > 0 and not WIDTH_RANGE[0] <= width / typical <= WIDTH_RANGE[1]:
        problems.append(f"ink {width / typical:.1f} times as wide as usual")
    return problems


def write_lines(
    model: InferenceModel,
    texts: list[str],
    options: SamplingOptions = SamplingOptions(),
    *,
    seed: int = 0,
    attempts: int = DEFAULT_ATTEMPTS,
    candidates: int = 1,
    reader: InkReader | None = None,
    progress: ProgressFn = no_progress,
) -> list[SampledLine]:
    """Sample all ``texts`` in one batch, then resample the failed lines (up to ``attempts`` rounds).

    With a ``reader`` (verified writing) the recognizer reads every sample, and each
    later round draws ``candidates`` samples of every line still pending, in the same
    batch; of a line's samples the one that reads closest to its text is kept, ties
    going to the fewest window objections (:attr:`SampledLine.rank`). A line that
    reads wrong gets one more round (:data:`MISREAD_ROUNDS`), one with window
    objections up to ``attempts``. Each round draws with its own seed derived from
    ``seed``, so the result is reproducible.
    """
    best: list[SampledLine | None] = [None] * len(texts)
    pending = list(range(len(texts)))
    copies = candidates if reader is not None else 1
    sampled_before = 0  # lines sampled in earlier rounds: progress counts every line sampled

    def report(done: int, total: int | None) -> None:
        progress(sampled_before + done, sampled_before + (total or 0))

    for attempt in range(attempts):
        rows = [index for index in pending for _ in range(copies if attempt else 1)]
        sampled = sample_lines(model, [texts[i] for i in rows], options, seed=seed + RESEED_STRIDE * attempt, progress=report)
        sampled_before += len(rows)
        judge_lines(sampled, model, reader)
        for index, line in zip(rows, sampled):
            kept = best[index]
            if kept is None or line.rank < kept.rank:
                best[index] = line
        pending = [i for i in pending if (kept := best[i]) is not None and _needs_another_round(kept, attempt)]
        if not pending:
            break
    return [line for line in best if line is not None]


def judge_lines(lines: list[SampledLine], model: InferenceModel, reader: InkReader | None) -> None:
    """Fill in each line's window objections and, with a ``reader``, what it reads as and how far that is off."""
    for line in lines:
        line.problems = line_problems(line, model)
    if reader is None:
        return
    for line, reading in zip(lines, reader.read([line.offsets for line in lines])):
        line.reading = reading
        line.misread = Levenshtein.distance(fold_look_alikes(reader.readable(line.text)), fold_look_alikes(reading))


def _needs_another_round(line: SampledLine, attempt: int) -> bool:
    return bool(line.problems) or (line.misread > 0 and attempt + 1 < MISREAD_ROUNDS)
