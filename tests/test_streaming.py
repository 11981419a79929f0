"""Continuous batching and page streaming: lines independent of their batch-mates, pages handed on as they are done."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from threadpoolctl import threadpool_info

from helpers.basics import tiny_model_file
from scribe.errors import ScribeError
from scribe.writing import formats, network, parallel, sampling
from scribe.writing.checks import RejectionWatch, points_cap
from scribe.writing.document import Scribe
from scribe.writing.layout import PageSetup
from scribe.writing.network import InferenceModel, load_inference_model
from scribe.writing.sampling import sample_lines, sample_stream

TEXTS = ["the quick brown fox", "jumps over", "the lazy dog", "a", "and runs far away again", "to the hills", "ok"]
LONG_TEXT = "\n".join(["the quick brown fox jumps over the lazy dog"] * 14)
SMALL_PAGE = PageSetup(size=(120.0, 90.0), margin=10.0, line_spacing=10.0)


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> InferenceModel:
    return load_inference_model(tiny_model_file(tmp_path_factory.mktemp("model") / "tiny.npz"))


@pytest.fixture
def in_this_process(monkeypatch: pytest.MonkeyPatch) -> None:
    """Shares sampled in this process, where a test watches the batch from inside or counts lines as they arrive."""
    monkeypatch.setattr(parallel, "can_fork", lambda: False)


def test_a_line_is_the_same_whichever_lines_share_its_batch(tiny_model: InferenceModel, monkeypatch: pytest.MonkeyPatch) -> None:
    together = sample_lines(tiny_model, TEXTS, seed=5, attempts=3)
    monkeypatch.setattr(sampling, "BATCH_ROWS", 2)  # two rows: the others wait, each row sees other neighbours
    narrow = sample_lines(tiny_model, TEXTS, seed=5, attempts=3)
    alone = sample_lines(tiny_model, [TEXTS[4]], seed=5, lines=[4], attempts=3)[0]
    for wide, row in zip(together, narrow):
        assert wide.steps == row.steps and wide.problems == row.problems
        np.testing.assert_allclose(wide.offsets, row.offsets, atol=1e-3)  # the matmuls' rounding may differ, no more
    assert alone.steps == together[4].steps
    np.testing.assert_allclose(alone.offsets, together[4].offsets, atol=1e-3)
    assert sample_lines(tiny_model, [], seed=5) == []
    other_seed = sample_lines(tiny_model, TEXTS, seed=6, attempts=3)
    assert any(a.steps != b.steps for a, b in zip(together, other_seed))


def test_sampling_keeps_blas_to_one_thread() -> None:
    """OpenBLAS's threads spin while they wait for a core: sampling runs it on one."""
    with network.one_blas_thread():
        inside = [library["num_threads"] for library in threadpool_info() if library["user_api"] == "blas"]
    assert inside and set(inside) == {1}


@pytest.mark.usefixtures("in_this_process")
def test_the_batch_never_holds_more_rows_than_its_width(tiny_model: InferenceModel, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sampling, "BATCH_ROWS", 3)
    widths: list[int] = []
    original = sampling.ContinuousBatch.step

    def step(batch: sampling.ContinuousBatch) -> tuple[np.ndarray, np.ndarray]:
        widths.append(len(batch.jobs))
        return original(batch)

    monkeypatch.setattr(sampling.ContinuousBatch, "step", step)
    finished = [index for index, _ in sample_stream(tiny_model, TEXTS, seed=1)]
    assert sorted(finished) == list(range(len(TEXTS)))
    assert max(widths) == 3 and widths[-1] <= 3 and min(widths) >= 1


@pytest.mark.usefixtures("in_this_process")
def test_the_batch_steps_on_c_ordered_arrays(tiny_model: InferenceModel, monkeypatch: pytest.MonkeyPatch) -> None:
    """The per-line state stays C-ordered as the batch starts and compacts: mixed layouts made every step's
    elementwise work strided (a third of a step at 100 lines)."""
    monkeypatch.setattr(sampling, "BATCH_ROWS", 4)
    seen: list[bool] = []
    original = sampling.ContinuousBatch.step

    def step(batch: sampling.ContinuousBatch) -> tuple[np.ndarray, np.ndarray]:
        state = batch.state
        seen.append(all(array.flags.c_contiguous for array in (state.columns, state.cells, state.gate_offsets, state.gates)))
        return original(batch)

    monkeypatch.setattr(sampling.ContinuousBatch, "step", step)
    list(sample_stream(tiny_model, TEXTS, seed=1))
    assert seen and all(seen)


def test_a_line_certain_to_fail_is_stopped_at_once(tiny_model: InferenceModel) -> None:
    watch = RejectionWatch(tiny_model, rows=2, positions=10)
    stuck, steady = [], []
    for step in range(int(watch.dwell_limit) + 2):
        flags = watch.failing(np.array([0, min(step // 3, 9)]))
        stuck.append(bool(flags[0]))
        steady.append(bool(flags[1]))
    assert stuck[-1] and not stuck[0] and not any(steady)  # resting on one letter too long
    assert watch.failing(np.array([9, 9])).tolist() == [False, False]
    assert watch.failing(np.array([3, 9])).tolist() == [True, False]  # fell back 6 letters behind its furthest
    assert points_cap("abc", tiny_model) == int(2.0 * 3 * tiny_model.points_per_char)


def test_stopped_lines_start_again_and_the_last_try_is_kept_whole(tiny_model: InferenceModel) -> None:
    """With a cap of one step per character every try fails; the last one runs to its cap and is kept."""
    options = sampling.SamplingOptions(max_steps_per_character=1)
    lines = sample_lines(tiny_model, ["abcdef"], options, seed=2, attempts=3)
    assert lines[0].problems and lines[0].steps <= 6
    progress: list[tuple[int, int | None]] = []
    list(sample_stream(tiny_model, TEXTS, seed=3, attempts=2, progress=lambda done, total: progress.append((done, total))))
    assert [done for done, _ in progress] == sorted(done for done, _ in progress) and progress[-1] == (len(TEXTS), len(TEXTS))


@pytest.mark.usefixtures("in_this_process")
def test_the_first_page_is_handed_on_before_the_last_is_sampled(
    tiny_model: InferenceModel, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sampling, "BATCH_ROWS", 4)
    progress: list[int] = []
    stream = Scribe(tiny_model).write_pages(LONG_TEXT, setup=SMALL_PAGE, seed=1, progress=lambda done, _: progress.append(done))
    assert stream.count >= 3 and not progress  # the page count is known before any sampling
    documents = stream.documents()
    first = next(documents)
    lines_so_far = progress[-1]
    assert len(first.pages) == 1 and len(first.lines) <= lines_so_far < len(first.lines) + 4  # at most a batch ahead
    rest = list(documents)
    assert len(rest) == stream.count - 1 and progress[-1] == sum(len(d.lines) for d in [first, *rest]) > lines_so_far
    whole = Scribe(tiny_model).write(LONG_TEXT, setup=SMALL_PAGE, seed=1)
    assert [page.lines[0].strokes[0].tolist() for page in whole.pages] == [
        document.pages[0].lines[0].strokes[0].tolist() for document in [first, *rest]
    ]


def test_pages_are_saved_as_they_come_and_renamed_together(tiny_model: InferenceModel, tmp_path: Path) -> None:
    stream = Scribe(tiny_model).write_pages(LONG_TEXT, setup=SMALL_PAGE, seed=1)
    seen: list[list[str]] = []
    paths = stream.save(tmp_path / "notes.png", on_page=lambda document: seen.append(sorted(p.name for p in tmp_path.iterdir())))
    assert [path.name for path in paths] == [f"notes-{n}.png" for n in range(1, stream.count + 1)]
    assert len(seen[0]) == 1 and seen[0][0].startswith(".notes-1.png.")  # page 1 on disk, under a temporary name
    assert len(seen[-1]) == stream.count
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(path.name for path in paths)


def test_a_failure_mid_document_leaves_no_page(tiny_model: InferenceModel, tmp_path: Path) -> None:
    stream = Scribe(tiny_model).write_pages(LONG_TEXT, setup=SMALL_PAGE, seed=1)

    pages: list[object] = []

    def fail_on_the_second(document: object) -> None:
        pages.append(document)
        if len(pages) == 2:
            raise ScribeError("the disk is full")

    with pytest.raises(ScribeError, match="disk is full"):
        stream.save(tmp_path / "notes.svg", on_page=fail_on_the_second)
    assert list(tmp_path.iterdir()) == []


def test_a_pdf_draws_each_page_as_it_comes_and_saves_once(
    tiny_model: InferenceModel, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A long PDF's pages are drawn while the later ones are sampled, not all after the last; the file is the same."""
    handed_on: list[int] = []
    drawn_after: list[int] = []  # pages handed on when each page was drawn
    draw = formats._draw_page
    monkeypatch.setattr(formats, "_draw_page", lambda *args: (drawn_after.append(len(handed_on)), draw(*args))[1])
    stream = Scribe(tiny_model).write_pages(LONG_TEXT, setup=SMALL_PAGE, seed=1)
    (path,) = stream.save(tmp_path / "notes.pdf", on_page=lambda document: handed_on.append(len(document.pages)))
    assert handed_on == [1] * stream.count and drawn_after == list(range(1, stream.count + 1))
    whole = Scribe(tiny_model).write(LONG_TEXT, setup=SMALL_PAGE, seed=1)
    assert path.read_bytes() == whole.to_bytes("pdf") and [p.name for p in tmp_path.iterdir()] == ["notes.pdf"]
