"""Teacher-forced evaluation: NLL, pen-lift accuracy, the VAE's KL, and attention alignment.

Alignment is measured because NLL falls steadily even when the attention window
has failed: a model that ignores its text still learns to draw plausible ink. For
every line the window's focus (the character with the largest weight, phi) is
compared with how far the pen has travelled along the line; a window that reads
the text at the writing's pace keeps the two together.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass

import torch
from torch import Tensor

from scribe.training.data import Batch, BucketBatchSampler, StrokeDataset, collate
from scribe.training.losses import PEN_DOWN, ctc_loss, kl_divergence, sequence_nll
from scribe.training.networks import HandwritingModel, MixtureParams
from scribe.training.recognizer import BLANK, Recognizer, ctc_targets, greedy_decode
from scribe.writing.legibility import error_rates


@dataclass
class EvalResult:
    """Averages over the evaluated sequences."""

    nll: float  # nats per sequence
    nll_per_point: float  # nats per point
    pen_lift_accuracy: float  # percent of points whose pen state is predicted right
    alignment_error: float  # mean |window focus - pen progress|, as fractions of the line (0 = perfect)
    sequences: int
    points: int
    kl: float | None = None  # nats per sequence, VAE only

    def to_dict(self) -> dict:
        return {k: v for k, v in asdict(self).items() if v is not None}

    @property
    def score(self) -> float:
        """What training minimizes and keeps the best checkpoint by."""
        return self.nll


@dataclass
class RecognitionResult:
    """The recognizer's figures over the evaluated lines (greedy CTC decoding)."""

    cer: float  # character error rate, percent
    wer: float  # word error rate, percent
    ctc_per_char: float  # CTC loss, nats per character
    sequences: int
    characters: int = 0  # the counts the rates are over: what combining datasets' results weighs by
    words: int = 0

    def to_dict(self) -> dict:
        return {k: v for k, v in asdict(self).items() if k not in ("characters", "words")}

    @property
    def score(self) -> float:
        return self.cer


@dataclass
class _Totals:
    nll: float = 0.0
    kl: float = 0.0
    correct: float = 0.0
    alignment: float = 0.0
    sequences: int = 0
    points: int = 0

    def add(self, other: _Totals) -> None:
        for name in self.__dataclass_fields__:
            setattr(self, name, getattr(self, name) + getattr(other, name))

    def result(self, is_vae: bool) -> EvalResult:
        n, p = max(self.sequences, 1), max(self.points, 1)
        return EvalResult(
            nll=self.nll / n,
            nll_per_point=self.nll / p,
            pen_lift_accuracy=100.0 * self.correct / p,
            alignment_error=self.alignment / n,
            sequences=self.sequences,
            points=self.points,
            kl=self.kl / n if is_vae else None,
        )


def predicted_pen_up(params: MixtureParams) -> Tensor:
    """Whether the model expects the pen to lift after each point (for the VAE: 'up' or 'end')."""
    logits = params.pen_logits
    if logits.shape[-1] == 1:
        return logits.squeeze(-1) > 0
    return logits.argmax(dim=-1) != PEN_DOWN


def alignment_error(phi: Tensor, x_progress: Tensor, text_mask: Tensor, mask: Tensor) -> Tensor:
    """Per sequence: mean |focus_t / characters - x_t / x_T| over real points.

    ``phi`` (B, T, U) are the window weights, ``x_progress`` (B, T) the pen's
    horizontal position. The end-of-text id is not counted as a character.
    """
    characters = (text_mask.sum(dim=1) - 1).clamp(min=1).to(phi.dtype)
    focus = phi.argmax(dim=-1).to(phi.dtype) / characters[:, None]
    span = (x_progress.max(dim=1).values - x_progress.min(dim=1).values).clamp(min=1e-6)
    travelled = (x_progress - x_progress.min(dim=1, keepdim=True).values) / span[:, None]
    weights = mask.to(phi.dtype)
    return ((focus.clamp(max=1) - travelled).abs() * weights).sum(dim=1) / weights.sum(dim=1).clamp(min=1)


def evaluate_batch(model: HandwritingModel, batch: Batch, std_x: float, mean_x: float) -> _Totals:
    """Figures of one batch, summed over its sequences."""
    output = model(batch.offsets, batch.offsets_mask, batch.text_ids, batch.text_mask)
    targets, mask = batch.offsets[:, 1:], batch.offsets_mask[:, 1:]
    params = output.decoder.params
    loss = sequence_nll(params, targets, mask)
    x_progress = torch.cumsum(targets[..., 0] * std_x + mean_x, dim=1)
    alignment = alignment_error(output.decoder.phi, x_progress, batch.text_mask, mask)
    kl = kl_divergence(output.mu, output.log_var).sum().item() if output.mu is not None else 0.0
    return _Totals(
        nll=loss.nll.sum().item(),
        kl=kl,
        correct=((predicted_pen_up(params) == (targets[..., 2] > 0.5)) & mask).sum().item(),
        alignment=alignment.sum().item(),
        sequences=len(batch.texts),
        points=int(mask.sum().item()),
    )


def iterate_batches(dataset: StrokeDataset, batch_size: int, limit: int | None = None) -> Iterator[Batch]:
    """Length-bucketed batches in a fixed order (no shuffling); ``limit``: that many, spread evenly over the lengths.

    A subset of the shortest batches would tell little: in UNIPEN they are single
    characters of three points, whose alignment error is meaningless.
    """
    batches = list(BucketBatchSampler(dataset.lengths(), batch_size, shuffle=False))
    if limit is not None and limit < len(batches):
        batches = [batches[round(i * (len(batches) - 1) / max(limit - 1, 1))] for i in range(limit)]
    for indices in batches:
        yield collate([dataset[i] for i in indices])


@contextmanager
def _evaluating(model: torch.nn.Module) -> Iterator[None]:
    """``model`` in evaluation mode (no dropout) for the block, then back as it was."""
    was_training = model.training
    model.eval()
    try:
        yield
    finally:
        model.train(was_training)


@torch.no_grad()
def evaluate(
    model: HandwritingModel,
    dataset: StrokeDataset,
    *,
    batch_size: int = 32,
    device: torch.device | str = "cpu",
    max_batches: int | None = None,
    on_batch: Callable[[int, EvalResult], None] | None = None,
) -> EvalResult:
    """Teacher-forced figures of ``model`` over ``dataset`` (all of it, or ``max_batches``)."""
    totals = _Totals()
    mean_x, std_x = float(dataset.mean[0]), float(dataset.std[0])
    with _evaluating(model):
        for number, batch in enumerate(iterate_batches(dataset, batch_size, max_batches)):
            batch_totals = evaluate_batch(model, batch.to(device), std_x, mean_x)
            totals.add(batch_totals)
            if on_batch is not None:
                on_batch(number, batch_totals.result(model.is_vae))
    return totals.result(model.is_vae)


@torch.no_grad()
def evaluate_recognizer(
    model: Recognizer,
    dataset: StrokeDataset,
    *,
    batch_size: int = 32,
    device: torch.device | str = "cpu",
    max_batches: int | None = None,
) -> RecognitionResult:
    """How well ``model`` reads the real ink of ``dataset``: CER, WER and CTC loss."""
    references, readings, loss, characters = [], [], 0.0, 0
    with _evaluating(model):
        for batch in iterate_batches(dataset, batch_size, max_batches):
            batch = batch.to(device)
            log_probs, frames = model(batch.offsets, batch.offsets_mask)
            targets = ctc_targets(batch.text_ids, batch.text_mask)
            loss += ctc_loss(log_probs, frames, targets, BLANK).sum().item()
            characters += sum(len(t) for t in targets)
            references += batch.texts
            readings += [dataset.alphabet.decode(ids) for ids in greedy_decode(log_probs, frames)]
    rates = error_rates(references, readings)
    words = sum(len(text.split()) for text in references)
    return RecognitionResult(rates.cer, rates.wer, loss / max(characters, 1), len(references), characters, words)


def combine(parts: Sequence[EvalResult | RecognitionResult]) -> EvalResult | RecognitionResult:
    """The figures of several datasets' evaluations as if over all their lines at once.

    Each average is weighed by what it is an average over (sequences, points,
    characters, words); one result is returned as it is.
    """
    if len(parts) == 1:
        return parts[0]
    if all(isinstance(part, EvalResult) for part in parts):
        return _combine_writing([p for p in parts if isinstance(p, EvalResult)])
    recognized = [p for p in parts if isinstance(p, RecognitionResult)]
    characters, words = sum(p.characters for p in recognized), sum(p.words for p in recognized)
    return RecognitionResult(
        cer=_weighed([(p.cer, p.characters) for p in recognized]),
        wer=_weighed([(p.wer, p.words) for p in recognized]),
        ctc_per_char=_weighed([(p.ctc_per_char, p.characters) for p in recognized]),
        sequences=sum(p.sequences for p in recognized),
        characters=characters,
        words=words,
    )


def _combine_writing(parts: Sequence[EvalResult]) -> EvalResult:
    kls = [p.kl for p in parts]
    return EvalResult(
        nll=_weighed([(p.nll, p.sequences) for p in parts]),
        nll_per_point=sum(p.nll * p.sequences for p in parts) / max(sum(p.points for p in parts), 1),
        pen_lift_accuracy=_weighed([(p.pen_lift_accuracy, p.points) for p in parts]),
        alignment_error=_weighed([(p.alignment_error, p.sequences) for p in parts]),
        sequences=sum(p.sequences for p in parts),
        points=sum(p.points for p in parts),
        kl=None if None in kls else _weighed([(p.kl or 0.0, p.sequences) for p in parts]),
    )


def _weighed(values: Sequence[tuple[float, int]]) -> float:
    """The mean of ``values`` weighed by their counts."""
    return sum(value * count for value, count in values) / max(sum(count for _, count in values), 1)
