"""Training loop for both models: teacher forcing, clipping, schedule, checkpoints, resume, DDP.

The loop is deliberately plain: one process (or one per GPU/CPU under ``torchrun``)
walks length-bucketed batches, validates every ``eval_every`` steps and at every
epoch end, and writes ``best.pth`` (lowest validation NLL) and ``last.pth``
(everything needed to resume exactly) atomically into the output folder, with a
JSON-lines log ``metrics.jsonl`` beside them.
"""

from __future__ import annotations

import json
import math
import os
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

from scribe.training.checkpoint import (
    initialize_from,
    model_checkpoint,
    read_checkpoint,
    save_checkpoint,
)
from scribe.training.data import Batch, BucketBatchSampler, StrokeDataset, StyleTable, collate
from scribe.errors import ScribeError
from scribe.training.evaluation import EvalResult, RecognitionResult, evaluate, evaluate_recognizer
from scribe.training.losses import ctc_loss, kl_divergence, kl_penalty, sequence_nll
from scribe.training.networks import HandwritingModel, ModelConfig
from scribe.training.recognizer import BLANK, Recognizer, RecognizerConfig, ctc_targets

MAX_BAD_STEPS = 25  # consecutive non-finite losses before training gives up
DEFAULT_POINTS_PER_CHAR = 12.5  # when meta.json does not say (IAM-OnDB at 2x decimation)
MODEL_KINDS = ("graves", "vae", "recognizer")
# LSTM size and depth when not given: the paper's for the writers, a small stack for the recognizer.
DEFAULT_SIZES = {"graves": (400, 3), "vae": (400, 3), "recognizer": (192, 2)}


@dataclass
class TrainOptions:
    """Everything ``scribe train`` can set; also readable from a TOML preset (``--config``)."""

    data_dir: Path
    out_dir: Path
    model: str = "graves"
    epochs: int = 30
    max_steps: int | None = None
    batch_size: int = 32
    lr: float = 1e-3
    lr_warmup: int = 200  # steps of linear warm-up
    lr_half_life: int = 20_000  # steps for the learning rate to halve after warm-up
    min_lr_fraction: float = 0.05
    grad_clip: float = 5.0
    hidden: int | None = None  # LSTM size; None: DEFAULT_SIZES of the model
    layers: int | None = None
    mixtures: int = 20
    window_mixtures: int = 10
    embed_dim: int = 64
    encoder_dim: int = 128
    # The window's step is exp(kappa_hat) / kappa_scale. None derives it from the data:
    # 2 x the median points per character, so that at initialization the window reads
    # at half the writing's pace (the paper's unscaled step races ahead and is ignored).
    kappa_scale: float | None = None
    latent_dim: int = 32
    writer_styles: bool = True  # Graves: learn one style embedding per training writer
    style_dim: int = 16
    style_dropout: float = 0.1  # fraction of lines trained as "any writer" (style 0)
    kl_weight: float = 1.0  # final weight of the KL term (VAE)
    kl_anneal_steps: int = 5_000  # steps over which the KL weight rises from 0 (VAE)
    free_bits: float = 0.25  # KL floor per latent dimension, nats (VAE)
    max_points: int | None = 1_200  # longer training lines are left out
    eval_every: int = 500
    eval_batches: int | None = None  # validate on at most this many batches
    device: str = "auto"
    seed: int = 0
    resume: bool = False
    init_from: Path | None = None  # start from these weights (fine-tuning, a grown model)

    @property
    def sizes(self) -> tuple[int, int]:
        """LSTM size and depth: as given, else the model's defaults."""
        hidden, layers = DEFAULT_SIZES[self.model]
        return self.hidden or hidden, self.layers or layers

    def model_config(self, vocab_size: int, points_per_char: float | None = None, styles: int = 0) -> ModelConfig:
        kappa_scale = self.kappa_scale or 2 * (points_per_char or DEFAULT_POINTS_PER_CHAR)
        hidden, layers = self.sizes
        return ModelConfig(
            kind=self.model,
            vocab_size=vocab_size,
            embed_dim=self.embed_dim,
            encoder_dim=self.encoder_dim,
            hidden=hidden,
            layers=layers,
            mixtures=self.mixtures,
            window_mixtures=self.window_mixtures,
            kappa_scale=kappa_scale,
            latent_dim=self.latent_dim,
            styles=styles,
            style_dim=self.style_dim,
        )

    def recognizer_config(self, vocab_size: int) -> RecognizerConfig:
        hidden, layers = self.sizes
        return RecognizerConfig(vocab_size=vocab_size, hidden=hidden, layers=layers)

    def build_model(self, vocab_size: int, points_per_char: float | None, styles: int) -> torch.nn.Module:
        """The untrained network these options describe."""
        if self.model == "recognizer":
            return Recognizer(self.recognizer_config(vocab_size))
        return HandwritingModel(self.model_config(vocab_size, points_per_char, styles))

    def to_dict(self) -> dict:
        return {k: str(v) if isinstance(v, Path) else v for k, v in asdict(self).items()}


def option_names() -> set[str]:
    """The keys a TOML preset may set."""
    return {f.name for f in fields(TrainOptions)}


def read_preset(path: Path) -> dict:
    """Training options from a TOML file (keys as in :class:`TrainOptions`; paths as strings)."""
    try:
        values = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise ScribeError(f"cannot read --config {path}: {exc.strerror}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ScribeError(f"--config {path} is not valid TOML: {exc}") from exc
    for key in ("data_dir", "out_dir", "init_from"):
        if key in values:
            values[key] = Path(values[key])
    return values


@dataclass
class TrainEvent:
    """What the loop reports to its caller (the CLI draws it); the library never prints."""

    kind: str  # "start", "step", "eval", "skip", "done"
    step: int
    total_steps: int
    loss: float | None = None
    steps_per_second: float | None = None
    metrics: dict = field(default_factory=dict)
    message: str = ""


@dataclass
class TrainState:
    """The loop's position, saved in ``last.pth``."""

    step: int = 0
    epoch: int = 0
    batch_in_epoch: int = 0
    best_val: float = math.inf
    bad_steps: int = 0


@dataclass
class Runtime:
    """Device and process-group facts of this process."""

    device: torch.device
    rank: int = 0
    world_size: int = 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def pick_device(choice: str) -> torch.device:
    """``auto`` uses CUDA when present; asking for CUDA without it is a user error."""
    if choice == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if choice == "cuda" and not torch.cuda.is_available():
        raise ScribeError("--device cuda was asked for but no CUDA GPU is available; use --device cpu")
    if choice not in ("cpu", "cuda"):
        raise ScribeError(f"unknown device {choice!r}; choose auto, cpu or cuda")
    return torch.device(choice)


def start_runtime(choice: str) -> Runtime:
    """Join the process group when launched by ``torchrun`` (NCCL on GPUs, gloo on CPUs)."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    device = pick_device(choice)
    if world_size == 1:
        return Runtime(device)
    rank, local_rank = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
    if device.type == "cuda":
        device = torch.device("cuda", local_rank)
        torch.cuda.set_device(device)
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
    return Runtime(device, rank, world_size)


def learning_rate_factor(step: int, options: TrainOptions) -> float:
    """Linear warm-up, then exponential decay with a half-life, floored at ``min_lr_fraction``."""
    if step < options.lr_warmup:
        return (step + 1) / options.lr_warmup
    decay = 0.5 ** ((step - options.lr_warmup) / options.lr_half_life)
    return max(decay, options.min_lr_fraction)


def kl_weight(step: int, options: TrainOptions) -> float:
    """KL annealing: the weight rises linearly from 0 to ``kl_weight``."""
    if options.kl_anneal_steps <= 0:
        return options.kl_weight
    return options.kl_weight * min(1.0, step / options.kl_anneal_steps)


def recognizer_loss(model: torch.nn.Module, batch: Batch) -> tuple[torch.Tensor, dict]:
    """The recognizer's objective: CTC loss per character of the batch's texts."""
    log_probs, frames = model(batch.offsets, batch.offsets_mask)
    targets = ctc_targets(batch.text_ids, batch.text_mask)
    loss = ctc_loss(log_probs, frames, targets, BLANK).sum() / max(sum(len(t) for t in targets), 1)
    return loss, {"ctc_per_char": loss.item()}


def batch_loss(
    model: torch.nn.Module, batch: Batch, step: int, options: TrainOptions, style_ids: torch.Tensor | None = None
) -> tuple[torch.Tensor, dict]:
    """Training objective per point: NLL (+ annealed, floored KL for the VAE) over all real points.

    The recognizer's is its CTC loss per character.
    """
    if options.model == "recognizer":
        return recognizer_loss(model, batch)
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
        floor = options.free_bits * options.latent_dim
        total = total + kl_weight(step, options) * kl_penalty(kl, floor).sum()
        figures["kl"] = kl.mean().item()
    return total / points, figures


class Trainer:
    """Owns the model, optimizer, data and state of one training run."""

    def __init__(self, options: TrainOptions, on_event: Callable[[TrainEvent], None]) -> None:
        self.options = options
        self.on_event = on_event
        self.runtime = start_runtime(options.device)
        torch.manual_seed(options.seed)
        self.train_set = StrokeDataset(options.data_dir, "train", max_points=options.max_points)
        self.val_set = StrokeDataset(options.data_dir, "val")
        self.alphabet = self.train_set.alphabet
        with_styles = options.model == "graves" and options.writer_styles
        self.styles = StyleTable(self.train_set.writers() if with_styles else [])
        points_per_char = self.train_set.meta.raw.get("points_per_char")
        self.model = options.build_model(len(self.alphabet), points_per_char, len(self.styles)).to(self.runtime.device)
        if options.init_from is not None and not options.resume:
            self._initialize_from(Path(options.init_from))
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=options.lr)
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(
            self.optimizer, lambda step: learning_rate_factor(step, options)
        )
        self.state = TrainState()
        self.last_eval_step = -1
        self.sampler = BucketBatchSampler(
            self.train_set.lengths(),
            options.batch_size,
            seed=options.seed,
            num_replicas=self.runtime.world_size,
            rank=self.runtime.rank,
        )
        if options.resume:
            self._resume()
        self.network: torch.nn.Module = self.model
        if self.runtime.world_size > 1:
            device_ids = [self.runtime.device.index] if self.runtime.device.type == "cuda" else None
            self.network = DistributedDataParallel(self.model, device_ids=device_ids)
        self.total_steps = options.max_steps or options.epochs * len(self.sampler)

    @property
    def out_dir(self) -> Path:
        return Path(self.options.out_dir)

    def _resume(self) -> None:
        path = self.out_dir / "last.pth"
        if not path.is_file():
            raise ScribeError(f"--resume: {path} not found; start without --resume or pass the right --out")
        checkpoint = read_checkpoint(path)
        if checkpoint["kind"] != self.options.model or checkpoint["config"] != self.model.config.to_dict():
            raise ScribeError(f"--resume: {path} was trained with other model options; use the same ones")
        training = checkpoint["training"]
        self.model.load_state_dict(checkpoint["state_dict"])
        self.optimizer.load_state_dict(training["optimizer"])
        self.scheduler.load_state_dict(training["scheduler"])
        torch.set_rng_state(training["rng"]["torch"])
        if torch.cuda.is_available() and training["rng"].get("cuda") is not None:
            torch.cuda.set_rng_state_all(training["rng"]["cuda"])
        self.state = TrainState(**training["state"])
        self._truncate_log()

    def _initialize_from(self, path: Path) -> None:
        checkpoint = read_checkpoint(path)
        if checkpoint["alphabet"] != self.alphabet.characters:
            raise ScribeError(f"--init-from {path}: its alphabet differs from this dataset's; use a matching split")
        try:
            initialize_from(self.model, checkpoint["state_dict"])
        except ValueError as exc:
            raise ScribeError(f"--init-from {path}: {exc}; use the same model options") from exc

    def _style_ids(self, batch: Batch) -> torch.Tensor | None:
        """The batch's writer styles, each replaced by style 0 ("any writer") with ``style_dropout``."""
        if not len(self.styles):
            return None
        ids = self.styles.indices(batch.writers)
        kept = (torch.rand(len(ids)) >= self.options.style_dropout).to(ids.device)
        return torch.where(kept, ids, torch.zeros_like(ids))

    def _truncate_log(self) -> None:
        """Drop log records written after the checkpoint we resume from: they will be redone."""
        log = self.out_dir / "metrics.jsonl"
        if not self.runtime.is_main or not log.is_file():
            return
        kept = [line for line in log.read_text(encoding="utf-8").splitlines() if json.loads(line)["step"] <= self.state.step]
        log.write_text("".join(line + "\n" for line in kept), encoding="utf-8")

    def _checkpoint(self, name: str, with_training: bool) -> None:
        if not self.runtime.is_main:
            return
        meta = self.train_set.meta
        checkpoint = model_checkpoint(
            self.model, self.alphabet, meta.mean, meta.std, self.state.step, self.styles, meta.raw.get("points_per_char")
        )
        if with_training:
            checkpoint["training"] = {
                "optimizer": self.optimizer.state_dict(),
                "scheduler": self.scheduler.state_dict(),
                "rng": {
                    "torch": torch.get_rng_state(),
                    "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None,
                },
                "state": asdict(self.state),
                "options": self.options.to_dict(),
            }
        save_checkpoint(checkpoint, self.out_dir / name)

    def _log(self, record: dict) -> None:
        if self.runtime.is_main:
            with open(self.out_dir / "metrics.jsonl", "a", encoding="utf-8") as log:
                log.write(json.dumps(record) + "\n")

    def validate(self) -> EvalResult | RecognitionResult | None:
        """Validation figures (main process only); keeps ``best.pth`` at the best score.

        The score is the NLL for the handwriting models, the character error rate for
        the recognizer.
        """
        if not self.runtime.is_main:
            return None
        self.last_eval_step = self.state.step
        run = evaluate_recognizer if self.options.model == "recognizer" else evaluate
        result = run(
            self.model,
            self.val_set,
            batch_size=self.options.batch_size,
            device=self.runtime.device,
            max_batches=self.options.eval_batches,
        )
        self._log({"event": "eval", "step": self.state.step, "epoch": self.state.epoch, **result.to_dict()})
        if result.score < self.state.best_val:
            self.state.best_val = result.score
            self._checkpoint("best.pth", with_training=False)
        self.on_event(TrainEvent("eval", self.state.step, self.total_steps, metrics=result.to_dict()))
        return result

    def _train_step(self, batch: Batch) -> dict | None:
        """One optimizer step; returns its figures, or None when the loss was not finite."""
        autocast = torch.autocast("cuda", dtype=torch.bfloat16, enabled=batch.offsets.device.type == "cuda")
        with autocast:
            loss, figures = batch_loss(self.network, batch, self.state.step, self.options, self._style_ids(batch))
        self.optimizer.zero_grad(set_to_none=True)
        if not torch.isfinite(loss):
            return None
        loss.backward()
        norm = torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.options.grad_clip)
        if not torch.isfinite(norm):
            self.optimizer.zero_grad(set_to_none=True)
            return None
        self.optimizer.step()
        self.scheduler.step()
        return {"loss": loss.item(), "grad_norm": norm.item(), "lr": self.scheduler.get_last_lr()[0], **figures}

    def _record_bad_step(self) -> None:
        self.state.bad_steps += 1
        message = f"non-finite loss at step {self.state.step}: step skipped ({self.state.bad_steps} in a row)"
        self._log({"event": "skip", "step": self.state.step, "message": message})
        self.on_event(TrainEvent("skip", self.state.step, self.total_steps, message=message))
        if self.state.bad_steps >= MAX_BAD_STEPS:
            raise ScribeError(
                f"training diverged: {MAX_BAD_STEPS} non-finite losses in a row at step {self.state.step}; "
                f"the last good checkpoint is {self.out_dir / 'last.pth'}; lower --lr and --resume"
            )

    def _finished(self) -> bool:
        if self.options.max_steps is not None:
            return self.state.step >= self.options.max_steps
        return self.state.epoch >= self.options.epochs

    def run(self) -> TrainState:
        """Train until ``max_steps`` or ``epochs``; returns the final state."""
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self.model.train()
        self.on_event(TrainEvent("start", self.state.step, self.total_steps))
        started, first_step = time.perf_counter(), self.state.step
        while not self._finished():
            self.sampler.set_epoch(self.state.epoch)
            for number, indices in enumerate(self.sampler):
                if number < self.state.batch_in_epoch:
                    continue  # already trained on before the run was interrupted
                batch = collate([self.train_set[i] for i in indices]).to(self.runtime.device)
                figures = self._train_step(batch)
                self.state.batch_in_epoch = number + 1
                if figures is None:
                    self._record_bad_step()
                    continue
                self.state.bad_steps = 0
                self.state.step += 1
                speed = (self.state.step - first_step) / (time.perf_counter() - started)
                self._log({"event": "train", "step": self.state.step, "epoch": self.state.epoch, **figures})
                self.on_event(
                    TrainEvent("step", self.state.step, self.total_steps, figures["loss"], speed, figures)
                )
                if self.state.step % self.options.eval_every == 0:
                    self.validate()
                    self._checkpoint("last.pth", with_training=True)
                if self._finished():
                    break
            else:
                self.state.epoch += 1
                self.state.batch_in_epoch = 0
                if self.last_eval_step != self.state.step:
                    self.validate()
            self._checkpoint("last.pth", with_training=True)
        if self.last_eval_step != self.state.step:  # the final weights are always validated
            self.validate()
            self._checkpoint("last.pth", with_training=True)
        self.on_event(TrainEvent("done", self.state.step, self.total_steps, metrics={"best_val": self.state.best_val}))
        return self.state


def train(options: TrainOptions, on_event: Callable[[TrainEvent], None] = lambda event: None) -> TrainState:
    """Run a whole training as ``scribe train`` does."""
    trainer = Trainer(options, on_event)
    try:
        return trainer.run()
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()
