"""Handwriting in motion: pages that write themselves, as animated SVG and as GIF.

The pen keeps a human pace. Training ink is simplified (RDP), so the model's points
are not evenly spaced in time; instead the time of every move comes from the
time stamps of real IAM-OnDB ink, measured on 600 training lines after the same
simplification (``benchmarks/pen_pace.py`` repeats the measurement): a pen-down
segment takes 0.016 s plus 0.043 s per x-height of its length (the pen slows in
curves, where the simplified ink keeps more points), and a lift within a line
takes 0.08 s plus 0.05 s per x-height of the jump (medians 0.10 s for a short
hop, 0.25 s for a jump of three x-heights). Moving to the next line takes
:data:`LINE_CHANGE_TIME`.

The animated SVG needs no script: every stroke is revealed by a SMIL animation of
its dash offset whose key times are the pen's times at its points, so a browser
plays it from a plain ``<img>`` tag. The static attributes show the finished
page, so viewers without animation (and cairosvg) show all the ink.
"""

from __future__ import annotations

import io
import math
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from scribe.errors import ScribeError
from scribe.writing import cairo
from scribe.writing.colours import colour_rgba
from scribe.writing.curves import flatten, svg_path
from scribe.writing.layout import Page, PageSetup

SEGMENT_TIME = 0.016  # s per pen-down segment ...
SEGMENT_TIME_PER_X_HEIGHT = 0.043  # ... plus this per x-height of its length
LIFT_TIME = 0.08  # s per pen lift within a line ...
LIFT_TIME_PER_X_HEIGHT = 0.05  # ... plus this per x-height of the jump
LINE_CHANGE_TIME = 0.5  # s from the end of one line to the start of the next
FINAL_HOLD = 2.0  # s the finished page stays before a looping animation starts again
SPEED_RANGE = (0.1, 100.0)
GIF_FRAME_TIME = 0.05  # s: 20 frames a second (GIF delays count hundredths of a second)
MAX_GIF_FRAMES = 2400  # two minutes of writing at 20 frames a second
_ARC_TOLERANCE = 0.01  # mm: flattening used to measure how far along its curve each point is


@dataclass
class TimedStroke:
    """One stroke on the page and the pen's time at each of its points (seconds from the page's start)."""

    points: np.ndarray  # (n, 2) page mm, y down
    times: np.ndarray  # (n,) increasing


def check_speed(speed: float) -> None:
    """Refuse a speed factor that is not a sensible number."""
    low, high = SPEED_RANGE
    if isinstance(speed, bool) or not isinstance(speed, (int, float)) or not (math.isfinite(speed) and low <= speed <= high):
        raise ScribeError(f"`speed` must be a factor from {low:g} to {high:g} (1 is the pen's own pace), not {speed!r}")


def page_timing(page: Page, x_height: float, speed: float = 1.0) -> list[TimedStroke]:
    """When the pen reaches every point of ``page``, writing its lines in order at ``speed`` times the human pace."""
    timed: list[TimedStroke] = []
    clock = 0.0
    for number, line in enumerate(page.lines):
        for index, stroke in enumerate(line.strokes):
            if timed:
                jump = float(np.hypot(*(stroke[0] - timed[-1].points[-1]))) / x_height
                clock += LINE_CHANGE_TIME if index == 0 and number else LIFT_TIME + LIFT_TIME_PER_X_HEIGHT * jump
            steps = np.hypot(*np.diff(stroke, axis=0).T) / x_height
            times = clock + np.concatenate([[0.0], np.cumsum(SEGMENT_TIME + SEGMENT_TIME_PER_X_HEIGHT * steps)])
            clock = float(times[-1]) + (SEGMENT_TIME if len(stroke) == 1 else 0.0)  # a dot still takes a touch
            timed.append(TimedStroke(stroke, times))
    return [TimedStroke(s.points, s.times / speed) for s in timed]


def writing_time(strokes: list[TimedStroke]) -> float:
    """Seconds from the first touch of the pen to the end of the last stroke."""
    return float(strokes[-1].times[-1]) if strokes else 0.0


# --------------------------------------------------------------------------- animated SVG


def animated_ink(page: Page, setup: PageSetup, speed: float, loop: bool) -> list[str]:
    """The ink of an animated page: one ``<path>`` per stroke, each with the ``<animate>`` that writes it.

    Each animation spans the whole cycle (the writing, then :data:`FINAL_HOLD` when it
    loops) and keys the stroke's dash offset (a dot's opacity) at the pen's times,
    so that all strokes share one clock and restart together.
    """
    strokes = page_timing(page, setup.x_height_mm, speed)
    cycle = max(writing_time(strokes) + (FINAL_HOLD if loop else 0.0), 1e-3)
    repeat = ' repeatCount="indefinite"' if loop else ""
    return [f'<path d="{svg_path(s.points)}"{_reveal(s, cycle, repeat)}</path>' for s in strokes]


def _reveal(stroke: TimedStroke, cycle: float, repeat: str) -> str:
    """The attributes and ``<animate>`` that draw one stroke along its curve at the pen's times."""
    starts = stroke.times[0] / cycle
    if len(stroke.points) == 1 or not np.diff(stroke.points, axis=0).any():  # a dot appears when touched
        attribute, values, key_times, dash = "stroke-opacity", "0;0;1;1", np.array([0.0, starts, starts, 1.0]), ">"
    else:
        polyline, index = flatten(stroke.points, _ARC_TOLERANCE)
        along = np.concatenate([[0.0], np.cumsum(np.hypot(*np.diff(polyline, axis=0).T))])[index]
        hidden = np.concatenate([[1.01], 1 - along / along[-1], [0.0]])  # 1.01: even the round cap stays off the path
        attribute, values = "stroke-dashoffset", ";".join(f"{v:.4f}" for v in hidden)
        key_times = np.concatenate([[0.0], stroke.times / cycle, [1.0]])
        dash = ' pathLength="1"><set attributeName="stroke-dasharray" to="1 2"/>'  # a still viewer draws it solid
    return (
        f'{dash}<animate attributeName="{attribute}" dur="{cycle:.3f}s" values="{values}" keyTimes="{_keys(key_times)}" '
        f'fill="freeze"{repeat}/>'
    )


def _keys(times: np.ndarray) -> str:
    """SMIL key times: from 0 to 1, never decreasing after rounding."""
    rounded = np.maximum.accumulate(np.clip(np.round(times, 5), 0.0, 1.0))
    rounded[0], rounded[-1] = 0.0, 1.0
    return ";".join(f"{t:.5f}".rstrip("0").rstrip(".") or "0" for t in rounded)


# --------------------------------------------------------------------------- GIF


def gif_frames(strokes: list[TimedStroke]) -> int:
    """How many frames a GIF of these strokes has: one per :data:`GIF_FRAME_TIME` of writing, and the last."""
    return math.ceil(writing_time(strokes) / GIF_FRAME_TIME) + 1


def page_gif(paper_png: bytes, page: Page, setup: PageSetup, dpi: float, speed: float, loop: bool) -> bytes:
    """An animated GIF of ``page`` being written on ``paper_png``, the empty page drawn opaque at ``dpi``.

    The ink is drawn on one cairo surface a little more each frame, and each frame
    stores only the rectangle its new ink touched, so a frame costs its new ink and
    memory stays flat however long the writing. A frame without new ink (the pen in
    the air) lengthens the one before; the last is held for :data:`FINAL_HOLD` s.
    """
    strokes = page_timing(page, setup.x_height_mm, speed)
    if (frames := gif_frames(strokes)) > MAX_GIF_FRAMES:
        raise ScribeError(
            f"the GIF would have {frames:,} frames, over {MAX_GIF_FRAMES:,}; write faster (speed "
            f"{speed * frames / MAX_GIF_FRAMES:.1f} or more) or fewer lines, or write an animated SVG"
        )
    assert setup.background is not None, "RenderOptions.check refuses a GIF without a background"
    ink = colour_rgba("ink", setup.ink)
    palette = _palette(paper_png, colour_rgba("background", setup.background), ink)
    with cairo.png_surface(paper_png) as surface, cairo.context(surface) as pen:
        pen.scale(dpi / 25.4, dpi / 25.4)
        pen.set_source_rgba(*ink)
        pen.set_pen(setup.pen_width, round_ends=True)
        height, width = surface.pixels().shape[:2]
        blocks = [_frame(surface.pixels(), (0, 0, width, height), palette)]
        delays = [0]
        for piece in _ink_by_frame(strokes, frames):
            delays[-1] += round(GIF_FRAME_TIME * 100)
            if not piece:
                continue
            pen.append_path(cairo.polylines_path(piece))
            left, top, right, bottom = pen.stroke_extents()
            box = _pixel_box((*pen.user_to_device(left, top), *pen.user_to_device(right, bottom)), width, height)
            pen.stroke()
            blocks.append(_frame(surface.pixels(), box, palette))
            delays.append(0)
    delays[-1] = round(FINAL_HOLD * 100)
    return _gif_file(width, height, blocks, delays, loop)


def _ink_by_frame(strokes: list[TimedStroke], frames: int) -> Iterator[list[np.ndarray]]:
    """For frame 0, 1, ...: the pieces of polyline the pen draws since the frame before."""
    flat = []
    for stroke in strokes:
        polyline, index = flatten(stroke.points)
        flat.append((polyline, np.interp(np.arange(len(polyline)), index, stroke.times)))
    for frame in range(frames):
        start, stop = (frame - 1) * GIF_FRAME_TIME, frame * GIF_FRAME_TIME
        pieces = []
        for polyline, times in flat:
            if times[0] > stop or (times[-1] <= start and frame):
                continue
            pieces.append(_between(polyline, times, start if frame else -1.0, stop))
        yield pieces


def _pixel_box(extents: tuple[float, float, float, float], width: int, height: int) -> tuple[int, int, int, int]:
    """The pixels a stroke's extents (device units) may touch, one pixel wider for antialiasing, on the image."""
    left, top, right, bottom = extents
    return (max(0, math.floor(left) - 1), max(0, math.floor(top) - 1),
            min(width, math.ceil(right) + 1), min(height, math.ceil(bottom) + 1))


def _palette(paper_png: bytes, paper: tuple[float, ...], ink: tuple[float, ...]) -> Any:
    """The frames' palette: 32 shades from the paper colour to the ink's (exact at both ends), and the paper's own.

    Antialiased ink on paper is a blend of the two; ruled paper adds its lines'
    colours, which 32 colours of the empty page cover.
    """
    from PIL import Image

    shades = np.linspace(np.array(paper[:3]), np.array(ink[:3]), 32) * 255
    page = Image.open(io.BytesIO(paper_png)).convert("RGB").quantize(colors=32).convert("RGB")
    colours = np.concatenate([shades, np.array(page.getcolors(32), dtype=object)[:, 1].tolist()])
    palette = Image.new("P", (1, 1))
    palette.putpalette(np.rint(colours).astype(np.uint8).ravel().tolist())
    return palette


def _frame(pixels: np.ndarray, box: tuple[int, int, int, int], palette: Any) -> bytes:
    """The GIF image block (descriptor, local colour table, LZW data) of ``box`` of ``pixels`` (BGRA rows).

    Pillow encodes the rectangle as a one-frame GIF; its global colour table becomes
    this block's local one, so each block stands on its own.
    """
    from PIL import Image

    left, top, right, bottom = box
    crop = np.ascontiguousarray(pixels[top:bottom, left:right])
    image = Image.frombuffer("RGB", (right - left, bottom - top), crop.tobytes(), "raw", "BGRX", 0, 1)
    encoded = io.BytesIO()
    # Not interlaced: the descriptor written below declares the rows in order.
    image.quantize(palette=palette, dither=Image.Dither.NONE).save(encoded, "GIF", interlace=False)
    data = encoded.getvalue()
    flags = data[10]
    table = data[13:13 + (3 << ((flags & 7) + 1) if flags & 0x80 else 0)]
    position = 13 + len(table)
    while data[position] == 0x21:  # an extension Pillow wrote: skip its sub-blocks
        position += 2
        while data[position]:
            position += data[position] + 1
        position += 1
    descriptor = bytearray(data[position:position + 10])
    struct.pack_into("<HH", descriptor, 1, left, top)
    descriptor[9] = (0x80 | (flags & 7)) if table else 0
    return bytes(descriptor) + table + data[position + 10:-1]  # -1: the trailer


def _gif_file(width: int, height: int, blocks: list[bytes], delays: list[int], loop: bool) -> bytes:
    """A GIF89a file of image blocks, each shown for its delay (hundredths of a second) and kept under the next."""
    from scribe.writing.plotter import WRITTEN_BY

    parts = [b"GIF89a", struct.pack("<HHBBB", width, height, 0, 0, 0)]
    if loop:
        parts.append(b"\x21\xff\x0bNETSCAPE2.0\x03\x01\x00\x00\x00")  # repeat forever
    parts.append(b"\x21\xfe" + bytes([len(WRITTEN_BY)]) + WRITTEN_BY.encode() + b"\x00")
    for block, delay in zip(blocks, delays):
        # graphic control: disposal 1 (leave the frame in place), the delay, no transparency
        parts.append(b"\x21\xf9\x04\x04" + struct.pack("<H", min(delay, 65_535)) + b"\x00\x00" + block)
    parts.append(b"\x3b")
    return b"".join(parts)


def _between(polyline: np.ndarray, times: np.ndarray, start: float, stop: float) -> np.ndarray:
    """The part of a timed polyline drawn after ``start`` and until ``stop``, cut at interpolated points."""
    inside = (times > start) & (times < stop)
    ends = [np.array([np.interp(t, times, polyline[:, 0]), np.interp(t, times, polyline[:, 1])])
            for t in (max(start, times[0]), min(stop, times[-1]))]
    return np.vstack([ends[0], polyline[inside], ends[1]])
