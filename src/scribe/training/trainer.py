"""Training loop for both models: teacher forcing, clipping, schedule, checkpoints, resume, DDP.

The loop is deliberately plain: one process (or one per GPU/CPU under ``torchrun``)
walks length-bucketed batches, validates every ``eval_every`` steps and at every
epoch end, and writes ``best.pth`` (lowest validation NLL) and ``last.pth``
(everything needed to resume exactly) atomically into the output folder, with a
JSON-lines log ``metrics.jsonl`` beside them. With several datasets
(:mod:`scribe.training.sources`) the batches mix them in the run's shares, and
validation covers each of them; ``best.pth`` follows the reference's NLL.
"""

from __future__ import annotations

import json
import math
import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from scribe.atomic import cannot_write
from scribe.errors import ScribeError, reason
from scribe.progress import ProgressFn
from scribe.training.checkpoint import read_checkpoint, save_checkpoint, start_from, stored_model
from scribe.training.data import Batch, MixedBatchSampler, StyleTable, collate, load_training_data
from scribe.training.evaluation import EvalResult, RecognitionResult, combine
from scribe.training.kinds import TRAINING, build_network
from scribe.training.options import TrainOptions
from scribe.training.runtime import end_runtime, start_runtime
from scribe.training.sources import mixed_points_per_char
from scribe.writing.stored import GRAVES, ModelConfig, WriterConfig, read_stored_model

RUN_FILES = ("best.pth", "last.pth", "metrics.jsonl")  # what a run writes into its out_dir
MAX_BAD_STEPS = 25  # consecutive non-finite losses before training gives up
DEFAULT_POINTS_PER_CHAR = 12.5  # when meta.json does not say (IAM-OnDB at 2x decimation)



@dataclass
class TrainEvent:
    """What the loop reports to its caller (the CLI draws it); the library never prints."""

    # "read" (message: which dataset and split; step of total_steps: files), "note" (message), "start", "step",
    # "eval", "skip", "done"
    kind: str
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


def learning_rate_factor(step: int, options: TrainOptions) -> float:
    """Linear warm-up, then exponential decay with a half-life, floored at ``min_lr_fraction``."""
    if step < options.lr_warmup:
        return (step + 1) / options.lr_warmup
    decay = 0.5 ** ((step - options.lr_warmup) / options.lr_half_life)
    return max(decay, options.min_lr_fraction)


class Trainer:
    """Owns the model, optimizer, data and state of one training run."""

    def __init__(self, options: TrainOptions, on_event: Callable[[TrainEvent], None]) -> None:
        self.options = options
        self.on_event = on_event
        self.runtime = start_runtime(options.device)
        created = self._claim_out_dir()
        try:
            self._set_up(options)
        except BaseException:  # a refused dataset or starting point leaves no empty run folder behind
            if created:
                with suppress(OSError):
                    self.out_dir.rmdir()  # only if still empty
            raise

    def _reading(self, what: str, _total: int | None) -> ProgressFn:
        """A progress callback for reading ``what`` (a dataset and split) that reports every thousandth file as a "read" event."""

        def report(done: int, total: int | None) -> None:
            if done == total or done % 1000 == 0:
                self.on_event(TrainEvent("read", done, total or 0, message=what))

        return report

    def _set_up(self, options: TrainOptions) -> None:
        """Load the data, build the network and the optimizer, and resume or initialize as asked."""
        torch.manual_seed(options.seed)
        self.data = load_training_data(options.data_dir, options.mix, options.max_points, self._reading)
        self.train_set = self.data.train
        self.alphabet = self.data.alphabet
        with_styles = options.kind == GRAVES and options.writer_styles
        self.styles = StyleTable.of(self.train_set.parts if with_styles else [], self.data.names)
        self.model = build_network(self.model_config()).to(self.runtime.device)
        if options.init_from is not None and not options.resume:
            self._initialize_from(Path(options.init_from))
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=options.lr)
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(
            self.optimizer, lambda step: learning_rate_factor(step, options)
        )
        self.state = TrainState()
        self.last_eval_step = -1
        self._clock = (time.perf_counter(), 0)  # when and at which step this process started training
        self.sampler = MixedBatchSampler(
            self.train_set.lengths(),
            options.batch_size,
            self.train_set.sizes(),
            self.data.draws,
            seed=options.seed,
            num_replicas=self.runtime.world_size,
            rank=self.runtime.rank,
        )
        if options.resume:
            self._resume()
        self.network: nn.Module = self.model
        if self.runtime.world_size > 1:
            device_ids = [self.runtime.device.index] if self.runtime.device.type == "cuda" else None
            self.network = DistributedDataParallel(self.model, device_ids=device_ids)
        self.total_steps = options.max_steps or options.epochs * len(self.sampler)

    @property
    def out_dir(self) -> Path:
        return Path(self.options.out_dir)

    @property
    def points_per_char(self) -> float | None:
        """The mix-weighted median of the datasets' points per character (see :func:`mixed_points_per_char`)."""
        return mixed_points_per_char([source.meta.points_per_char for source in self.data.sources], self.data.weights)

    def model_config(self) -> ModelConfig:
        """The kind's config: its defaults, the options' architecture, and what the data decides.

        The data decides the vocabulary, the writer styles and, unless given, the
        window's pace: ``kappa_scale`` = 2 x the median points per character, so that at
        initialization the window reads at half the writing's pace (the paper's unscaled
        step races ahead and is ignored).
        """
        architecture: dict[str, Any] = dict(self.options.architecture)
        kind = self.options.model_kind
        if kind.config is WriterConfig:
            architecture.setdefault("kappa_scale", 2 * (self.points_per_char or DEFAULT_POINTS_PER_CHAR))
            architecture["styles"] = len(self.styles)
        known = {f.name for f in fields(kind.config)}
        try:
            settings = {key: value for key, value in architecture.items() if key in known}
            return kind.config(kind=kind.name, vocab_size=len(self.alphabet), **settings)
        except TypeError as exc:
            raise ScribeError(f"the {kind.name} architecture settings are not valid ({exc})") from exc

    def _claim_out_dir(self) -> bool:
        """Refuse to train over another run's checkpoints, unless resuming it or told to overwrite it.

        The folder is made now, so that a place that cannot be written fails before the
        data are loaded; returns whether it was made here.
        """
        if self.out_dir.exists() and not self.out_dir.is_dir():
            raise ScribeError(f"{self.out_dir} is a file; give `out_dir` a folder for the run")
        created = not self.out_dir.exists()
        try:
            self.out_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise cannot_write(self.out_dir, exc) from exc
        linked = [name for name in RUN_FILES if (self.out_dir / name).is_symlink()]
        if linked:  # scribe writes its own files; through a link it would write wherever the link points
            raise ScribeError(
                f"{self.out_dir / linked[0]} is a link; a run writes only its own files there: remove the link "
                "or choose another `out_dir`"
            )
        existing = [name for name in RUN_FILES if (self.out_dir / name).exists()]
        if not existing or self.options.resume:
            return created
        if not self.options.overwrite:
            raise ScribeError(
                f"{self.out_dir} already holds a training run ({', '.join(existing)}); continue it with `resume`, "
                "choose another `out_dir`, or pass `overwrite` to replace it"
            )
        if self.runtime.is_main:
            for name in existing:
                (self.out_dir / name).unlink()
        return created

    def _resume(self) -> None:
        path = self.out_dir / "last.pth"
        if not path.is_file():
            raise ScribeError(f"cannot resume: {path} not found; start a new run or point at the run's folder")
        checkpoint = read_checkpoint(path)
        if checkpoint.training is None:
            raise ScribeError(f"cannot resume {path}: it holds no training state (a best.pth?); resume from a last.pth")
        if checkpoint.model.datasets and checkpoint.model.datasets != self.data.shares():
            raise ScribeError(
                f"cannot resume {path}: it was trained on {_shares(checkpoint.model.datasets)}, this run is on "
                f"{_shares(self.data.shares())}; use the same `data_dir`, `mix` and `max_points`"
            )
        if checkpoint.model.config != self.model.config:
            raise ScribeError(f"cannot resume {path}: it was trained with other model settings; use the same ones")
        try:
            self._restore(checkpoint.model.weights, checkpoint.training)
        except (KeyError, TypeError, ValueError, RuntimeError, AttributeError) as exc:
            raise ScribeError(f"cannot resume {path}: its training state is damaged ({reason(exc)}); start a new run") from exc
        self._truncate_log()

    def _restore(self, weights: dict[str, Any], training: dict[str, Any]) -> None:
        """Put the weights, optimizer, schedule, random generators and position of a saved run back."""
        self.model.load_state_dict({k: torch.from_numpy(v) for k, v in weights.items()})
        self.optimizer.load_state_dict(training["optimizer"])
        self.scheduler.load_state_dict(training["scheduler"])
        torch.set_rng_state(training["rng"]["torch"])
        if torch.cuda.is_available() and training["rng"].get("cuda") is not None:
            torch.cuda.set_rng_state_all(training["rng"]["cuda"])
        self.state = TrainState(**training["state"])

    def _initialize_from(self, path: Path) -> None:
        saved = read_stored_model(path)
        try:
            carried = start_from(self.model, saved, self.alphabet, self.styles.keys)
        except ValueError as exc:
            raise ScribeError(f"cannot start from {path}: {exc}; use the same model settings") from exc
        if saved.style_writers and self.styles.keys:
            note = f"{carried:,} of the {len(saved.style_writers):,} writer styles of {path.name} carried over"
            if carried < len(self.styles.keys):
                names = ", ".join(sorted(set(saved.style_datasets))) or "its reference dataset's"
                note += f"; styles match by dataset folder name and writer (it had {names}), the rest start afresh"
            self.on_event(TrainEvent("note", 0, 0, message=note))

    def _style_ids(self, batch: Batch) -> torch.Tensor | None:
        """The batch's writer styles, each replaced by style 0 ("any writer") with ``style_dropout``."""
        if not len(self.styles):
            return None
        ids = self.styles.indices(batch.writers, batch.sources)
        kept = (torch.rand(len(ids)) >= self.options.style_dropout).to(ids.device)
        return torch.where(kept, ids, torch.zeros_like(ids))

    def _truncate_log(self) -> None:
        """Drop log records written after the checkpoint we resume from: they will be redone."""
        log = self.out_dir / "metrics.jsonl"
        if not self.runtime.is_main or not log.is_file():
            return
        kept = [line for line in log.read_text(encoding="utf-8").splitlines() if _logged_step(line) <= self.state.step]
        log.write_text("".join(line + "\n" for line in kept), encoding="utf-8")

    def _checkpoint(self, name: str, with_training: bool) -> None:
        if not self.runtime.is_main:
            return
        meta = self.data.reference  # whose statistics every dataset was normalized with
        model = stored_model(
            self.model, self.alphabet, meta.mean, meta.std, step=self.state.step, points_per_char=self.points_per_char,
            style_writers=[writer for _, writer in self.styles.keys], style_datasets=[name for name, _ in self.styles.keys],
            datasets=self.data.shares(), simplified_at=meta.simplified_at,
        )
        training: dict[str, Any] | None = None
        if with_training:
            training = {
                "optimizer": self.optimizer.state_dict(),
                "scheduler": self.scheduler.state_dict(),
                "rng": {
                    "torch": torch.get_rng_state(),
                    "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None,
                },
                "state": asdict(self.state),
                "options": self.options.to_dict(),
            }
        save_checkpoint(model, self.out_dir / name, training)

    def _log(self, record: dict) -> None:
        if self.runtime.is_main:
            with open(self.out_dir / "metrics.jsonl", "a", encoding="utf-8") as log:
                log.write(json.dumps(record) + "\n")

    def validate(self) -> EvalResult | RecognitionResult | None:
        """Validation figures (main process only); keeps ``best.pth`` at the best score.

        The score is the NLL for the handwriting models, the character error rate for
        the recognizer. Every dataset's ``val`` split is evaluated (at most
        ``eval_batches`` batches of each); the figures returned and logged are those
        of all their lines together, with each dataset's own under ``datasets`` when
        there are several. ``best.pth`` is chosen by the *reference* dataset's score:
        it stays comparable with a run on the reference alone and does not move with
        the sizes of the other datasets' validation splits, whose lines may be
        longer or shorter (NLL is per sequence).
        """
        if not self.runtime.is_main:
            return None
        self.last_eval_step = self.state.step
        evaluate = TRAINING[self.options.kind].evaluate
        parts = [
            evaluate(self.model, val, batch_size=self.options.batch_size, device=self.runtime.device,
                     max_batches=self.options.eval_batches)
            for val in self.data.val
        ]
        result = combine(parts)
        metrics = result.to_dict()
        if len(parts) > 1:
            metrics["datasets"] = {name: part.to_dict() for name, part in zip(self.data.names, parts)}
        self._log({"event": "eval", "step": self.state.step, "epoch": self.state.epoch, **metrics})
        if parts[0].score < self.state.best_val:
            self.state.best_val = parts[0].score
            self._checkpoint("best.pth", with_training=False)
        self.on_event(TrainEvent("eval", self.state.step, self.total_steps, metrics=metrics))
        return result

    def _train_step(self, batch: Batch) -> dict | None:
        """One optimizer step; returns its figures, or None when the loss was not finite."""
        autocast = torch.autocast("cuda", dtype=torch.bfloat16, enabled=batch.offsets.device.type == "cuda")
        with autocast:
            loss, figures = TRAINING[self.options.kind].loss(
                self.network, batch, self.state.step, self.options, self._style_ids(batch)
            )
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
                f"the last good checkpoint is {self.out_dir / 'last.pth'}; lower `lr` and `resume`"
            )

    def _finished(self) -> bool:
        if self.options.max_steps is not None:
            return self.state.step >= self.options.max_steps
        return self.state.epoch >= self.options.epochs

    def _run_batch(self, number: int, indices: list[int]) -> None:
        """Train on one batch of the epoch, log it, and validate when it is time."""
        batch = collate([self.train_set[i] for i in indices]).to(self.runtime.device)
        figures = self._train_step(batch)
        self.state.batch_in_epoch = number + 1
        if figures is None:
            self._record_bad_step()
            return
        self.state.bad_steps = 0
        self.state.step += 1
        started, first_step = self._clock
        speed = (self.state.step - first_step) / (time.perf_counter() - started)
        self._log({"event": "train", "step": self.state.step, "epoch": self.state.epoch, **figures})
        self.on_event(TrainEvent("step", self.state.step, self.total_steps, figures["loss"], speed, figures))
        if self.state.step % self.options.eval_every == 0:
            self.validate()
            self._checkpoint("last.pth", with_training=True)

    def run(self) -> TrainState:
        """Train until ``max_steps`` or ``epochs``; returns the final state.

        Ctrl-C (SIGINT) takes effect between two steps: ``last.pth`` is saved with the
        run's exact position, so ``--resume`` loses nothing, and KeyboardInterrupt is raised.
        """
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self.model.train()
        self.on_event(TrainEvent("start", self.state.step, self.total_steps))
        self._clock = (time.perf_counter(), self.state.step)
        with interrupt_between_steps() as interrupted:
            while not self._finished():
                self.sampler.set_epoch(self.state.epoch)
                for number, indices in enumerate(self.sampler):
                    if interrupted():
                        self._checkpoint("last.pth", with_training=True)
                        raise KeyboardInterrupt
                    if number >= self.state.batch_in_epoch:  # earlier batches were trained on before a resume
                        self._run_batch(number, indices)
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


def _shares(datasets: dict[str, float]) -> str:
    """Datasets and their weights for a message: ``iam-ondb 0.70, unipen 0.30``."""
    return ", ".join(f"{name} {weight:.2f}" for name, weight in datasets.items())


def _logged_step(line: str) -> float:
    """The step of a metrics.jsonl record; a line torn by a crash (what resuming is for) counts as after any step."""
    try:
        return float(json.loads(line)["step"])
    except (ValueError, KeyError, TypeError):
        return math.inf


@contextmanager
def interrupt_between_steps() -> Iterator[Callable[[], bool]]:
    """Hold Ctrl-C until the current step is done; yields "was it pressed?".

    An interrupt in the middle of a step could leave the weights one step ahead of
    the recorded position. Signal handlers belong to the main thread; elsewhere
    (a notebook's worker thread) Ctrl-C is left as it is.
    """
    if threading.current_thread() is not threading.main_thread():
        yield lambda: False
        return
    pressed: list[bool] = []
    previous = signal.signal(signal.SIGINT, lambda number, frame: pressed.append(True))
    try:
        yield lambda: bool(pressed)
    finally:
        signal.signal(signal.SIGINT, previous)


def train(options: TrainOptions, on_event: Callable[[TrainEvent], None] = lambda event: None) -> TrainState:
    """Run a whole training as ``scribe train`` does."""
    trainer = Trainer(options, on_event)
    finished = False
    try:
        state = trainer.run()
        finished = True
        return state
    finally:
        end_runtime(finished)
