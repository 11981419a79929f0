"""Sampling handwriting from a trained model, the lines of a document in one continuous batch.

Each step draws the next offset from the mixture with Graves' sampling bias b
(eqs. 61-62: sigma = exp(sigma_hat - b), pi = softmax(pi_hat * (1 + b))) and the
pen state from its Bernoulli (or, for the VAE, categorical) head. A line ends
when its attention window has moved past the last character onto the
end-of-text position and the pen has just lifted; a pen that keeps writing
there is stopped after a few characters' worth of points, and a cap on steps per
character stops lines that never get there.

Batching is continuous (:class:`ContinuousBatch`, :func:`sample_stream`): a line that ends leaves its row,
which the next line waiting takes; a line that fails the checks of
:mod:`scribe.writing.checks` starts again in its row with new random numbers, and
one certain to fail is stopped as soon as that is certain, so no line holds up the
others and there is no second round. The lines are dealt into two such batches,
sampled side by side on two cores where there are two (:mod:`scribe.writing.parallel`).
Every line draws its random numbers from a
stream of its own, keyed by the seed, its index in the document and which sampling
of it this is, so a line comes out the same whichever lines share the batch, the
sample verified writing keeps included (up to the rounding of the matrix products,
which can depend on the batch's size).
Given a :class:`~scribe.writing.verifying.Verification`, each batch also reads its
lines back as they are written and draws more samples of each misread one in the
rows that free up, keeping the one likeliest to say its text (verified writing).

Runs on :mod:`scribe.writing.network` (NumPy), so writing never imports PyTorch.
"""

from __future__ import annotations

import functools
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from numbers import Real
from typing import Any

import numpy as np

from scribe.errors import ScribeError
from scribe.ink.alphabet import Alphabet
from scribe.ink.strokes import denormalize, normalize
from scribe.progress import ProgressFn, no_progress
from scribe.writing.checks import RejectionWatch, SampledLine, line_problems, points_cap, without_trailing_marks
from scribe.writing.network import InferenceModel, Mixture, one_blas_thread
from scribe.writing.parallel import Record, merged
from scribe.writing.reader import InkReader
from scribe.writing.verifying import Verification, Verifier

MAX_ATTEMPTS = 10  # beyond a few rounds a doubtful line stays doubtful
DEFAULT_ATTEMPTS = 3  # samplings of a line, the first included, before a doubtful one is kept
MAX_CANDIDATES = 16  # samples verified writing may draw of a line
DEFAULT_CANDIDATES = 3  # verified writing on: see docs/model-card.md for the measurement that chose it
MIN_ATTEMPTS_TO_REDRAW = 2  # attempts a line must be allowed before verified writing may draw it again
BIAS_RANGE = (-1.0, 20.0)  # above -1 (the mixture weights are scaled by 1 + bias), at most 20: past it nothing changes
TEMPERATURE_RANGE = (0.01, 10.0)  # inclusive: colder is a stiff copy of the mean, hotter is noise
DEFAULT_BIAS = 1.0  # Graves' sampling bias; 1.0 read best on held-out texts (docs/model-card.md)
MAX_STEPS_PER_CHARACTER = 40  # a character takes ~11 points at the default simplification
PEN_DOWN = 0  # the VAE's pen states are down, up and "end of sequence"
RUN_ON_FACTOR = 3.0  # points past the end of the text after which a pen that never lifts is stopped
DRAW_CHUNK = 64  # steps of random numbers a line draws from its stream at a time
PEN_UNIFORM, PEN_THRESHOLD = 3, 4  # the columns of a chunk that decide the pen (see sample_pen)
BATCH_ROWS = 128  # lines sampled side by side at most, more wait: 250 lines ran 48 lines/s at 32, 52 at 64, 56 at 128
SHARES = 2  # a text's lines are dealt into this many batches, run side by side on as many cores (fixed: see sample_stream)


@dataclass
class Conditioning:
    """Who writes: at most one of a writer style, a conditioning vector, or priming ink.

    ``vector`` is what the decoder reads in a style's place: a VAE's latent z, or a
    writer-style vector of a Graves writer's own (a mix of two built-in styles).
    ``prime_offsets`` are a real line in the dataset's units (the stroke format of
    :mod:`scribe.ink.strokes`) and ``prime_text`` what it says: the model reads them
    first (Graves, section 5.5) and continues in their style.
    """

    style_id: int | None = None
    vector: np.ndarray | None = None
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


def encode_texts(alphabet: Alphabet, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Padded text ids (B, L) with their end-of-text ids, and the mask of real positions."""
    encoded = [alphabet.encode(text) for text in texts]
    width = max(len(e) for e in encoded)
    ids = np.full((len(texts), width), Alphabet.PAD, dtype=np.int64)
    for row, e in zip(ids, encoded):
        row[: len(e)] = e
    return ids, ids != Alphabet.PAD


def _categorical(logits: np.ndarray, uniform: np.ndarray) -> np.ndarray:
    """One draw per row of softmax(``logits``) (B, N), by inverting the cumulative sum at ``uniform`` (B,) in [0, 1).

    The weights are left unnormalized: the uniform is scaled by their total instead.
    """
    cumulative = np.exp(logits - logits.max(axis=1, keepdims=True)).cumsum(axis=1)
    return np.minimum((cumulative < uniform[:, None] * cumulative[:, -1:]).sum(axis=1), logits.shape[1] - 1)


def sample_offsets(mixture: Mixture, bias: float, temperature: float, draws: np.ndarray) -> np.ndarray:
    """Draw (B, 2) offsets from a batch of bivariate mixtures (eqs. 61-62 for the bias).

    ``draws`` (B, 3 or more) are each row's random numbers: a uniform that picks the
    component and two standard normals that place the point.
    """
    component = _categorical(mixture.pi_logits * ((1 + bias) / temperature), draws[:, 0])
    rows = np.arange(len(component))
    sigma = np.exp(mixture.log_sigma[rows, component] - bias)
    sigma *= temperature**0.5
    rho = mixture.rho[rows, component]
    offsets = sigma * draws[:, 1:3]  # sigma_x n0 and sigma_y n1, then n1 correlated with n0 by rho
    offsets[:, 1] *= np.sqrt(1 - rho * rho)
    offsets[:, 1] += sigma[:, 1] * rho * draws[:, 1]
    offsets += mixture.mu[rows, component]
    return offsets


def sample_pen(mixture: Mixture, draws: np.ndarray) -> np.ndarray:
    """Draw the pen lift (B,) bool.

    ``draws`` are :func:`_draw_chunk`'s columns: the pen's uniform u, and logit(u),
    which a Bernoulli logit exceeds exactly when u < sigmoid(logit). The VAE's pen has
    three states: its "end of line" lifts the pen like "up" does, and ends nothing by
    itself. Lines end where the window says they do, as a Graves writer's do: a VAE
    trained with UNIPEN's single characters and words draws "end" after a few letters
    of a long line too, and lines that stopped there read at 30% CER instead of 13%
    (a VAE 250 steps from a writer, 60 IAM-OnDB texts).
    """
    logits = mixture.pen_logits
    if logits.shape[-1] == 1:
        return logits[:, 0] > draws[:, PEN_THRESHOLD]
    return _categorical(logits, draws[:, PEN_UNIFORM]) != PEN_DOWN


def line_stream(seed: int, line: int, sampling: int) -> np.random.Generator:
    """The random numbers of one sampling of line ``line`` of a document: its own, whatever else is sampled."""
    return np.random.default_rng(np.random.SeedSequence([seed, line, sampling]))


def _draw_chunk(stream: np.random.Generator) -> np.ndarray:
    """:data:`DRAW_CHUNK` steps of a line's random numbers: component uniform, two normals, pen uniform and its logit."""
    chunk = np.concatenate([stream.random((DRAW_CHUNK, 1)), stream.standard_normal((DRAW_CHUNK, 2)),
                            stream.random((DRAW_CHUNK, 1)), np.empty((DRAW_CHUNK, 1))], axis=1)
    with np.errstate(divide="ignore"):  # u = 0 has logit -inf: every pen logit exceeds it, as sigmoid > 0
        chunk[:, PEN_THRESHOLD] = np.log(chunk[:, PEN_UNIFORM]) - np.log1p(-chunk[:, PEN_UNIFORM])
    return chunk


@one_blas_thread()  # the text encoder's and the priming's products too: see one_blas_thread
def _start(model: InferenceModel, texts: list[str], conditioning: Conditioning) -> tuple:
    """The decoder state after reading any priming ink, the window's end positions, and the text offset."""
    prefix = conditioning.prime_text + " " if conditioning.prime_offsets is not None else ""
    alphabet = Alphabet(model.alphabet)
    text_ids, text_mask = encode_texts(alphabet, [prefix + text for text in texts])
    batch = len(texts)
    cond = None
    if conditioning.vector is not None:
        cond = np.repeat(np.asarray(conditioning.vector, np.float32)[None], batch, axis=0)
    elif conditioning.style_id is not None:
        cond = model.style_vectors(np.full(batch, conditioning.style_id))
    state = model.start(text_ids, text_mask, cond)
    # Row 0 of every training line is the origin (0, 0), seen through the normalization.
    point = np.repeat(normalize(np.zeros((1, 3), np.float32), model.mean, model.std), batch, axis=0)
    if conditioning.prime_offsets is not None:
        prime = normalize(conditioning.prime_offsets, model.mean, model.std)
        for row in prime:
            model.step(point, state)
            point = np.repeat(row[None], batch, axis=0)
    return state, point, text_mask.sum(axis=1) - 1, len(prefix)


@dataclass(frozen=True)
class _Job:
    """One sampling of one line: which text, whose random stream, and whether it is the last try."""

    text: int  # index into the texts being sampled
    line: int  # the line's index in its document: its random stream
    sampling: int  # which sampling of the line this is: its random stream
    last: bool  # the last try is kept whatever it draws, so it is never stopped early
    candidate: bool = False  # one more sample of a misread line (verified writing): kept as drawn, never tried again


class ContinuousBatch:
    """Lines sampled side by side, one per row; a row whose line ends starts the next waiting line or leaves.

    A line that ends with :func:`line_problems` and has tries left starts again in
    its row with the next sampling of its stream; one certain to fail
    (:class:`RejectionWatch`) ends at once. A line's best try (fewest problems) is
    kept. Rows that are left empty are dropped from the batch, so its matrix products
    shrink as the lines finish.
    """

    def __init__(self, model: InferenceModel, texts: list[str], options: SamplingOptions, seed: int,
                 jobs: list[_Job], attempts: int) -> None:
        self.model, self.texts, self.options, self.seed, self.attempts = model, texts, options, seed, attempts
        self.fresh, origin, self.end_index, self.prefix = _start(model, texts, options.conditioning)
        self.origin = origin[0]
        cap = options.max_steps_per_character
        self.limit = np.maximum((self.end_index - self.prefix) * cap, cap)
        self.run_on = int(RUN_ON_FACTOR * model.points_per_char)
        self.best: list[SampledLine | None] = [None] * len(texts)
        self.tries = [0] * len(texts)
        self.waiting: deque[_Job] = deque()
        self.jobs: list[_Job] = []
        self.streams: list[np.random.Generator] = []
        self.state = self.fresh.take(np.zeros(0, np.int64))
        self.point = origin[:0]
        self.rows = np.arange(0)
        self.steps, self.past_text = np.zeros(0, np.int64), np.zeros(0, np.int64)
        self.end, self.stop_at = np.zeros(0, np.int64), np.zeros(0, np.int64)
        self.lifted, self.last = np.zeros(0, bool), np.zeros(0, bool)
        self.draws = np.zeros((0, DRAW_CHUNK, 5))
        self.watch = RejectionWatch(model, 0, self.fresh.text.shape[1])
        self.points = np.zeros((0, int(self.limit.max()), 3), np.float32)
        self.focus = np.zeros((0, int(self.limit.max())), np.int64)
        self.add(jobs)

    def add(self, jobs: list[_Job], first: bool = False) -> None:
        """Queue ``jobs`` behind those waiting (``first``: before them); as many as there is room for start at once."""
        if first:
            self.waiting.extendleft(reversed(jobs))
        else:
            self.waiting.extend(jobs)
        starting = [self.waiting.popleft() for _ in range(min(len(self.waiting), BATCH_ROWS - len(self.jobs)))]
        if not starting:
            return
        width = len(self.jobs)
        self.state = self.state.joined(self.fresh.take(np.array([job.text for job in starting])))  # new rows start fresh
        self.watch.grow(len(starting))
        for name in _ROW_ARRAYS:
            array = getattr(self, name)
            setattr(self, name, np.concatenate([array, np.zeros((len(starting), *array.shape[1:]), array.dtype)]))
        self.jobs += starting
        self.streams += [_NO_STREAM] * len(starting)
        self.rows = np.arange(len(self.jobs))
        for row, job in enumerate(starting, width):
            self._start_row(row, job)

    def _begin(self, row: int, job: _Job) -> None:
        """Start ``job`` in ``row``, freed by the line before: the line's state before its first point, and the rest."""
        self.state.put(np.array([row]), self.fresh, np.array([job.text]))
        self._start_row(row, job)

    def _start_row(self, row: int, job: _Job) -> None:
        """Start ``job`` in ``row``, whose decoder state is already fresh: its own random numbers, nothing drawn yet."""
        self.jobs[row] = job
        self.point[row] = self.origin
        self.steps[row] = self.past_text[row] = 0
        self.lifted[row], self.last[row] = False, job.last
        self.end[row] = self.end_index[job.text]
        # The cap on steps, and, for a try that need not be kept, one past the points a line that passes may take.
        too_many = self.limit[job.text] if job.last else points_cap(self.texts[job.text], self.model) + 1
        self.stop_at[row] = min(self.limit[job.text], too_many)
        self.streams[row] = line_stream(self.seed, job.line, job.sampling)
        self.draws[row] = _draw_chunk(self.streams[row])
        self.watch.reset(row)

    def step(self) -> tuple[np.ndarray, np.ndarray]:
        """Draw every row's next point; which rows' lines end with it, and which of those finished their text."""
        mixture = self.model.step(self.point, self.state)
        draws = self.draws[self.rows, self.steps % DRAW_CHUNK]
        xy = sample_offsets(mixture, self.options.bias, self.options.temperature, draws)
        pen_up = sample_pen(mixture, draws)
        # A stroke of one point is a dot; under 1% of the data's strokes are, but a pen
        # lift sampled on a stroke's first point turns a "t" bar into one ("the" reads
        # "lhe"), so every stroke gets at least two points.
        pen_up &= ~self.lifted
        focus = self.state.phi.argmax(axis=1)
        at_end = focus >= self.end
        self.past_text += at_end
        finished = at_end & pen_up
        self.steps += 1
        doomed = self.watch.failing(focus - self.prefix) & ~self.last
        ending = finished | doomed | (self.steps >= self.stop_at) | (self.past_text >= self.run_on)
        pen_up |= ending
        self.point[:, :2] = xy
        self.point[:, 2] = pen_up
        self.lifted = pen_up
        self.points[self.rows, self.steps - 1] = self.point
        self.focus[self.rows, self.steps - 1] = focus - self.prefix
        if not (chunk_left := self.steps % DRAW_CHUNK).all():
            for row in np.flatnonzero((chunk_left == 0) & ~ending):
                self.draws[row] = _draw_chunk(self.streams[row])
        return ending, finished

    def advance(self) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`step` until a line ends, on one BLAS thread (:func:`one_blas_thread`); as :meth:`step` returns."""
        with one_blas_thread():
            ending, finished = self.step()
            while not ending.any():
                ending, finished = self.step()
        return ending, finished

    def end_line(self, row: int, finished: bool) -> SampledLine | None:
        """Start what comes next in ``row``; the line that ended there, once it is final (its text's best try, or a candidate)."""
        job, steps = self.jobs[row], int(self.steps[row])
        drawn = denormalize(self.points[row, :steps], self.model.mean, self.model.std)
        if self.origin[2] > 0 and steps:
            # After priming ink the pen is lifted, so the first point is a jump in the air
            # from the end of that ink to where the text begins, not a stroke: the line
            # starts there, or a long straight lead-in would join the margin to it.
            drawn[0, :2] = 0
        line = SampledLine(np.concatenate([np.zeros((1, 3), np.float32), drawn]), self.texts[job.text], finished, steps,
                           self.focus[row, :steps].copy())
        line = without_trailing_marks(line, self.model)
        line.problems = line_problems(line, self.model)
        final: SampledLine | None = line  # a candidate is kept as drawn
        retry = False
        if not job.candidate:
            if (kept := self.best[job.text]) is None or line.rank < kept.rank:
                self.best[job.text] = line
            self.tries[job.text] += 1
            retry = bool(line.problems) and not job.last and self.tries[job.text] < self.attempts
            final = None if retry else self.best[job.text]
            if not retry:
                self.best[job.text] = None
        following = _Job(job.text, job.line, job.sampling + 1, self.tries[job.text] + 1 == self.attempts) if retry else None
        following = following or (self.waiting.popleft() if self.waiting else None)
        if following is None:
            self.jobs[row] = _Job(-1, -1, -1, True)  # an empty row, dropped by compact()
        else:
            self._begin(row, following)
        return final

    def compact(self) -> None:
        """Drop the empty rows from the batch."""
        keep = np.array([row for row, job in enumerate(self.jobs) if job.text >= 0], dtype=np.int64)
        self.state = self.state.take(keep)
        self.watch.take(keep)
        self.jobs = [self.jobs[row] for row in keep]
        self.streams = [self.streams[row] for row in keep]
        self.rows = np.arange(len(keep))
        for name in _ROW_ARRAYS:
            setattr(self, name, getattr(self, name)[keep])


_ROW_ARRAYS = ("point", "steps", "past_text", "end", "stop_at", "lifted", "last", "draws", "points", "focus")  # one row a line
_NO_STREAM = np.random.default_rng(0)  # a new row's place holder until the line starting there gets its own stream


def sample_stream(
    model: InferenceModel,
    texts: list[str],
    options: SamplingOptions = SamplingOptions(),
    *,
    seed: int = 0,
    lines: list[int] | None = None,
    attempts: int = 1,
    verification: Verification | None = None,
    progress: ProgressFn = no_progress,
) -> Iterator[tuple[int, SampledLine]]:
    """Write every text of ``texts`` as one line, yielding ``(index, line)`` as each is final.

    A text's line is the best of up to ``attempts`` tries; with a ``verification``,
    of those and its candidates (:mod:`scribe.writing.verifying`). The texts are dealt
    into :data:`SHARES` shares (text i to share i mod :data:`SHARES`), each sampled in
    a continuous batch of its own, side by side where the machine allows
    (:func:`~scribe.writing.parallel.merged`); a line comes out the same wherever its
    share ran. Lines come in roughly the texts' order. ``lines[i]`` is text i's line
    in its document (default: i): with the seed it chooses the line's random numbers
    (:func:`line_stream`); try k is sampling k, candidate c sampling ``attempts + c``.
    """
    lines = list(range(len(texts))) if lines is None else lines
    jobs = [_Job(i, lines[i], 0, attempts == 1) for i in range(len(texts))]
    shares = [functools.partial(_share_stream, model, texts, options, seed, jobs[k::SHARES], attempts, verification)
              for k in range(min(SHARES, len(jobs)))]
    for done, (index, line) in enumerate(merged(shares, _line_record, _line_from_record), 1):
        progress(done, len(texts))
        yield index, line


def _share_stream(model: InferenceModel, texts: list[str], options: SamplingOptions, seed: int, share: list[_Job],
                  attempts: int, verification: Verification | None) -> Iterator[tuple[int, SampledLine]]:
    """The lines of one share's jobs (a job's ``text`` indexes ``texts``) from one continuous batch, as each is final."""
    jobs = [_Job(k, job.line, job.sampling, job.last) for k, job in enumerate(share)]
    batch = ContinuousBatch(model, [texts[job.text] for job in share], options, seed, jobs, attempts)
    verifier = None if verification is None else Verifier(verification, batch.texts)
    while batch.jobs or (verifier is not None and verifier.unread):
        if batch.jobs:
            ending, finished = batch.advance()
            for row in np.flatnonzero(ending):
                job = batch.jobs[row]
                if (line := batch.end_line(int(row), bool(finished[row]))) is None:
                    continue
                if verifier is None:
                    yield share[job.text].text, line
                else:
                    verifier.take(job.text, line, job.sampling - attempts if job.candidate else None)
            batch.compact()
        if verifier is not None:
            final, redraw = verifier.read_when_due(writing=len(batch.jobs), waiting=len(batch.waiting))
            if redraw:  # before lines not yet started: a page waits for its rewrites, not for later pages
                batch.add([_Job(text, share[text].line, attempts + number, True, candidate=True)
                           for text, number in redraw], first=True)
            for text, line in final:
                yield share[text].text, line


def _line_record(item: tuple[int, SampledLine]) -> Record:
    """A sampled line and its text's index as plain data, to cross from a sampling process."""
    index, line = item
    header = {"index": index, "text": line.text, "finished": line.finished, "steps": line.steps, "problems": line.problems,
              "reading": line.reading, "misread": line.misread, "likelihood": line.likelihood}
    return header, [line.offsets, line.focus]


def _line_from_record(record: Record) -> tuple[int, SampledLine]:
    header, (offsets, focus) = record
    return header["index"], SampledLine(offsets, header["text"], header["finished"], header["steps"], focus,
                                        header["problems"], header["reading"], header["misread"], header["likelihood"])


def sample_lines(model: InferenceModel, texts: list[str], options: SamplingOptions = SamplingOptions(),
                 **settings: Any) -> list[SampledLine]:
    """Every text's line, in the texts' order (``settings`` as for :func:`sample_stream`)."""
    found = dict(sample_stream(model, texts, options, **settings))
    return [found[index] for index in range(len(texts))]


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
    """Sample all ``texts`` in one continuous batch, each line tried up to ``attempts`` times against its window's checks.

    With a ``reader``, the lines are verified (:mod:`scribe.writing.verifying`): each is
    read back, and one that reads wrong is drawn again until it reads right or has
    ``candidates`` samples (only its first when ``attempts`` is 1). Every sampling of
    every line has its own random numbers derived from ``seed``.
    """
    verification = None if reader is None else verification_by(reader, candidates, attempts)
    return sample_lines(model, texts, options, seed=seed, attempts=attempts, verification=verification, progress=progress)


def verification_by(reader: InkReader, candidates: int, attempts: int) -> Verification:
    """Verified writing with ``reader``: up to ``candidates`` samples of a misread line, if ``attempts`` allows more than one."""
    return Verification(reader, candidates, rewrites=attempts >= MIN_ATTEMPTS_TO_REDRAW)
