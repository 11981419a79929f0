"""What training needs of each model kind: one row per row of :data:`scribe.writing.stored.KINDS`.

The torch-free table (:data:`~scribe.writing.stored.KINDS`) says what a kind is (its
config class, whether it writes); this one says how it trains: the network it
builds, the loss it minimizes and the evaluation that picks its best checkpoint.
Adding a model kind is one row in each.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from torch import Tensor, nn

from scribe.training.data import Batch, StrokeDataset
from scribe.training.evaluation import EvalResult, RecognitionResult, evaluate, evaluate_recognizer
from scribe.training.losses import ctc_loss, kl_divergence, kl_penalty, sequence_nll
from scribe.training.networks import HandwritingModel
from scribe.training.options import TrainOptions
from scribe.training.recognizer import BLANK, Recognizer, ctc_targets
from scribe.writing.stored import GRAVES, RECOGNIZER, VAE, ModelConfig

Loss = Callable[[nn.Module, Batch, int, TrainOptions, "Tensor | None"], tuple[Tensor, dict[str, float]]]
Evaluation = Callable[..., "EvalResult | RecognitionResult"]


@dataclass(frozen=True)
class KindTraining:
    """How one kind trains: build its network, compute its loss, evaluate it (lower score is better)."""

    build: Callable[[Any], HandwritingModel | Recognizer]
    loss: Loss
    evaluate: Evaluation
    score: str  # how to show the evaluation's score, a format string
    character_rows: tuple[str, ...]  # parameters with one row per vocabulary id (remapped when an alphabet grows)


def kl_weight(step: int, options: TrainOptions) -> float:
    """KL annealing: the weight rises linearly from 0 to ``kl_weight``."""
    if options.kl_anneal_steps <= 0:
        return options.kl_weight
    return options.kl_weight * min(1.0, step / options.kl_anneal_steps)


def writer_loss(
    model: nn.Module, batch: Batch, step: int, options: TrainOptions, style_ids: Tensor | None = None
) -> tuple[Tensor, dict[str, float]]:
    """NLL per point (eq. 26) over all real points, plus the VAE's annealed, floored KL term."""
    output = model(batch.offsets, batch.offsets_mask, batch.text_ids, batch.text_mask, style_ids)
    params = output.decoder.params
    if batch.offsets.device.type == "cuda":  # the mixture is evaluated in float32 after autocast
        params = type(params)(**{k: v.float() for k, v in vars(params).items()})
    terms = sequence_nll(params, batch.offsets[:, 1:], batch.offsets_mask[:, 1:])
    points = terms.points.sum()
    total = terms.nll.sum()
    figures = {"nll_per_point": (total / points).item()}
    if output.mu is not None:
        kl = kl_divergence(output.mu.float(), output.log_var.float())
        floor = options.free_bits * output.mu.shape[-1]
        total = total + kl_weight(step, options) * kl_penalty(kl, floor).sum()
        figures["kl"] = kl.mean().item()
    return total / points, figures


def recognizer_loss(
    model: nn.Module, batch: Batch, step: int, options: TrainOptions, style_ids: Tensor | None = None
) -> tuple[Tensor, dict[str, float]]:
    """The recognizer's objective: CTC loss per character of the batch's texts."""
    log_probs, frames = model(batch.offsets, batch.offsets_mask)
    targets = ctc_targets(batch.text_ids, batch.text_mask)
    loss = ctc_loss(log_probs, frames, targets, BLANK).sum() / max(sum(len(t) for t in targets), 1)
    return loss, {"ctc_per_char": loss.item()}


TRAINING: dict[str, KindTraining] = {
    GRAVES: KindTraining(HandwritingModel, writer_loss, evaluate, "nll {:.1f} nats/seq", ("text_encoder.embedding.weight",)),
    VAE: KindTraining(HandwritingModel, writer_loss, evaluate, "nll {:.1f} nats/seq", ("text_encoder.embedding.weight",)),
    RECOGNIZER: KindTraining(Recognizer, recognizer_loss, evaluate_recognizer, "CER {:.1f}%", ("output.weight", "output.bias")),
}


def build_network(config: ModelConfig) -> HandwritingModel | Recognizer:
    """The untrained network ``config`` describes."""
    return TRAINING[config.kind].build(config)


def evaluate_network(
    kind: str, network: nn.Module, dataset: StrokeDataset, **options: Any
) -> EvalResult | RecognitionResult:
    """The evaluation of ``kind`` for ``network`` on ``dataset`` (see :mod:`scribe.training.evaluation`)."""
    return TRAINING[kind].evaluate(network, dataset, **options)

