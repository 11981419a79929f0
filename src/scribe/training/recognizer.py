"""An online handwriting recognizer: stroke offsets in, text out, trained with CTC.

scribe uses it to measure whether generated handwriting can be read
(``scribe legibility``): NLL says how well a model predicts real ink, not
whether people could read what it writes. Following recent synthesis work
(Decoupled Style Descriptors, TrInk), the generated ink is read back by a
recognizer and scored by its character error rate.

The network is small on purpose, so that it trains on a CPU in well under an hour:

- per-point features: the normalized ``dx, dy, pen_up`` of :mod:`scribe.ink.strokes`
  plus the pen's height within the line (standardized per line), because offsets
  alone hide where a stroke sits relative to the baseline (``g`` and ``q`` differ
  from ``a`` and ``d`` mostly in that);
- two 1-D convolutions, the second with stride 2 (a character spans ~11 points at
  the default simplification, so ~5 frames remain per character);
- a bidirectional LSTM stack and a linear map to the alphabet, where the
  alphabet's padding id doubles as CTC's blank (Graves et al., ICML 2006).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from scribe.ink.alphabet import Alphabet
from scribe.training.networks import reverse_within_length
from scribe.writing.stored import RecognizerConfig

BLANK = Alphabet.PAD  # CTC's blank: the padding id never occurs inside a text
FEATURES = 4  # dx, dy, pen_up, height within the line


def line_features(offsets: Tensor, mask: Tensor) -> Tensor:
    """Per-point features (B, T, 4): normalized offsets and the pen's standardized height.

    Row 0 of a line is its origin; its height comes from the running sum of ``dy``,
    centred and scaled over the real points of each line so that it does not depend
    on where the line sits or how tall the writing is.
    """
    weights = mask.to(offsets.dtype).unsqueeze(-1)
    height = torch.cumsum(offsets[..., 1:2] * weights, dim=1)
    count = weights.sum(dim=1, keepdim=True).clamp(min=1)
    mean = (height * weights).sum(dim=1, keepdim=True) / count
    spread = (((height - mean) ** 2 * weights).sum(dim=1, keepdim=True) / count).sqrt().clamp(min=1e-3)
    return torch.cat([offsets, (height - mean) / spread * weights], dim=-1) * weights


class BidirectionalLSTM(nn.Module):
    """One bidirectional layer over right-padded sequences, directions concatenated.

    Like :class:`scribe.training.networks.StrokeEncoder`, each direction is a fused LSTM over
    the padded batch, the backward one reading every sequence reversed within its
    length (packed sequences are much slower to train on a CPU).
    """

    def __init__(self, inputs: int, hidden: int) -> None:
        super().__init__()
        self.forward_lstm = nn.LSTM(inputs, hidden, batch_first=True)
        self.backward_lstm = nn.LSTM(inputs, hidden, batch_first=True)

    def forward(self, x: Tensor, lengths: Tensor) -> Tensor:
        ahead, _ = self.forward_lstm(x)
        behind, _ = self.backward_lstm(reverse_within_length(x, lengths))
        return torch.cat([ahead, reverse_within_length(behind, lengths)], dim=-1)


class Recognizer(nn.Module):
    """Stroke offsets (normalized, B x T x 3) -> per-frame log-probabilities over the alphabet."""

    def __init__(self, config: RecognizerConfig) -> None:
        super().__init__()
        self.config = config
        channels = config.channels
        self.convolutions = nn.Sequential(
            nn.Conv1d(FEATURES, channels, kernel_size=5, padding=2),
            nn.ReLU(),
            nn.Conv1d(channels, channels, kernel_size=5, stride=2, padding=2),
            nn.ReLU(),
        )
        sizes = [channels] + [2 * config.hidden] * config.layers
        self.lstms = nn.ModuleList(BidirectionalLSTM(sizes[i], config.hidden) for i in range(config.layers))
        self.dropout = nn.Dropout(config.dropout)
        self.output = nn.Linear(2 * config.hidden, config.vocab_size)

    @staticmethod
    def frame_lengths(point_lengths: Tensor) -> Tensor:
        """Frames after the stride-2 convolution for lines of ``point_lengths`` points."""
        return (point_lengths + 1) // 2

    def forward(self, offsets: Tensor, mask: Tensor) -> tuple[Tensor, Tensor]:
        """Log-probabilities (B, frames, vocab) and the number of real frames of each line (B,)."""
        lengths = self.frame_lengths(mask.sum(dim=1))
        # Padding is zeroed again after the first convolution, so that the strided one sees
        # the same zeros past a line's end whether the line is read alone or in a batch.
        x = self.convolutions[1](self.convolutions[0](line_features(offsets, mask).transpose(1, 2)))
        x = self.convolutions[3](self.convolutions[2](x * mask.unsqueeze(1))).transpose(1, 2)
        for lstm in self.lstms:
            x = lstm(self.dropout(x), lengths.clamp(min=1))
        return torch.log_softmax(self.output(self.dropout(x)), dim=-1), lengths


def ctc_targets(text_ids: Tensor, text_mask: Tensor) -> list[Tensor]:
    """Each line's character ids (a batch's padded ``text_ids``), without the end-of-text id."""
    lengths = text_mask.sum(dim=1) - 1
    return [ids[:length] for ids, length in zip(text_ids, lengths.tolist())]


def greedy_decode(log_probs: Tensor, lengths: Tensor) -> list[list[int]]:
    """Best-path CTC decoding: the most likely class per frame, repeats merged, blanks dropped."""
    best = log_probs.argmax(dim=-1).tolist()
    decoded = []
    for path, length in zip(best, lengths.tolist()):
        ids, previous = [], BLANK
        for label in path[:length]:
            if label != previous and label != BLANK:
                ids.append(label)
            previous = label
        decoded.append(ids)
    return decoded


@torch.no_grad()
def read_lines(model: Recognizer, offsets: Tensor, mask: Tensor, alphabet: Alphabet) -> list[str]:
    """The texts the recognizer reads in a batch of normalized lines."""
    was_training = model.training
    model.eval()
    log_probs, lengths = model(offsets, mask)
    model.train(was_training)
    return [alphabet.decode(ids) for ids in greedy_decode(log_probs, lengths)]
