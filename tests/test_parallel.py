"""Shares run in forked children: the same results as in this process, failures as one error, no child left behind."""

from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest

from helpers.basics import tiny_model_file
from scribe.errors import ScribeError
from scribe.writing import parallel
from scribe.writing.network import load_inference_model
from scribe.writing.parallel import Record, merged
from scribe.writing.sampling import sample_lines

forking = pytest.mark.skipif(not parallel.can_fork(), reason="shares run in forked children only on Linux with 2+ cores")


@pytest.fixture
def forks(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The children forked while a test runs, so that a test of forking cannot pass in one process."""
    real_fork, pids = os.fork, []

    def fork() -> int:
        pid = real_fork()
        pids.append(pid)
        return pid

    monkeypatch.setattr(os, "fork", fork)
    return pids


def counting(start: int, fail_after: int | None = None, die: bool = False) -> Callable[[], Iterator[tuple[int, np.ndarray]]]:
    """A share yielding (start + k, an array) for k < 5, raising or dying after ``fail_after`` items."""

    def share() -> Iterator[tuple[int, np.ndarray]]:
        for k in range(5):
            if k == fail_after:
                if die:
                    os.kill(os.getpid(), signal.SIGKILL)
                raise ScribeError(f"share {start} failed at {k}")
            yield start + k, np.full((k + 1, 3), start + k, np.float32)

    return share


def to_record(item: tuple[int, np.ndarray]) -> Record:
    return {"number": item[0]}, [item[1]]


def from_record(record: Record) -> tuple[int, np.ndarray]:
    return record[0]["number"], record[1][0]


def no_child_left() -> bool:
    try:
        os.waitpid(-1, os.WNOHANG)
    except ChildProcessError:
        return True
    return False


def run(shares: list[Callable[[], Iterator[tuple[int, np.ndarray]]]]) -> list[tuple[int, np.ndarray]]:
    return list(merged(shares, to_record, from_record))


@forking
def test_forked_shares_give_what_they_give_in_this_process(monkeypatch: pytest.MonkeyPatch, forks: list[int]) -> None:
    forked = run([counting(0), counting(100)])
    assert len(forks) == 2 and no_child_left()
    monkeypatch.setattr(parallel, "can_fork", lambda: False)
    taking_turns = run([counting(0), counting(100)])
    assert [n for n, _ in taking_turns] == [0, 100, 1, 101, 2, 102, 3, 103, 4, 104]
    assert sorted(n for n, _ in forked) == [n for n, _ in sorted(taking_turns, key=lambda item: item[0])]
    for n, array in forked:  # each share's items in its own order, arrays intact
        assert array.dtype == np.float32 and array.shape == (n % 100 + 1, 3) and (array == n).all()
    assert [n for n, _ in forked if n < 100] == [0, 1, 2, 3, 4]


@forking
def test_a_failing_share_is_one_error_and_stops_the_others(forks: list[int]) -> None:
    with pytest.raises(ScribeError, match="share 100 failed at 2"):
        run([counting(0), counting(100, fail_after=2)])
    assert len(forks) == 2 and no_child_left()

    def buggy() -> Iterator[tuple[int, np.ndarray]]:
        yield from counting(0)()
        raise ZeroDivisionError("a bug")

    with pytest.raises(RuntimeError, match="(?s)a sampling process failed:.*Traceback.*ZeroDivisionError: a bug"):
        run([counting(100), buggy])  # a bug is not a user's error: it keeps its traceback
    assert no_child_left()
    with pytest.raises(ScribeError, match="stopped before it sent its lines"):
        run([counting(0), counting(100, fail_after=1, die=True)])
    assert no_child_left()


@forking
def test_a_refused_fork_falls_back_to_taking_turns(monkeypatch: pytest.MonkeyPatch) -> None:
    real_fork, forks = os.fork, []

    def fork() -> int:
        forks.append(1)
        if len(forks) == 2:  # the first child has started: it is stopped, and nothing runs twice
            raise BlockingIOError(errno.EAGAIN, "Resource temporarily unavailable")
        return real_fork()

    monkeypatch.setattr(os, "fork", fork)
    assert [n for n, _ in run([counting(0), counting(100)])] == [0, 100, 1, 101, 2, 102, 3, 103, 4, 104]
    assert len(forks) == 2 and no_child_left()


@forking
def test_children_are_read_whatever_the_descriptor_numbers() -> None:
    """A process with many files open (a server) gets pipes numbered past select()'s limit of 1024."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if max(soft, hard) < 1200:
        pytest.skip("this system allows too few open files")
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, 1200), hard))
    held = [os.open(os.devnull, os.O_RDONLY) for _ in range(1100)]
    try:
        assert sorted(n for n, _ in run([counting(0), counting(100)])) == [0, 1, 2, 3, 4, 100, 101, 102, 103, 104]
    finally:
        for descriptor in held:
            os.close(descriptor)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    assert no_child_left()


@forking
def test_a_process_that_ignores_sigchld_still_gets_every_item(monkeypatch: pytest.MonkeyPatch, forks: list[int]) -> None:
    """Such a process (many servers) has its children reaped by the kernel: there is none left to wait for."""
    previous = signal.signal(signal.SIGCHLD, signal.SIG_IGN)
    try:
        assert len(run([counting(0), counting(100)])) == 10 and len(forks) == 2
    finally:
        signal.signal(signal.SIGCHLD, previous)


@forking
def test_a_consumer_that_stops_early_leaves_no_child() -> None:
    items = merged([counting(0), counting(100)], to_record, from_record)
    next(items)
    items.close()
    assert no_child_left()


def running(pid: int) -> bool:
    """Whether process ``pid`` still runs (a zombie waiting to be reaped has ended)."""
    try:
        return "\nState:\tZ" not in Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False


@forking
def test_children_end_when_the_parent_is_killed(tmp_path: Path) -> None:
    """A parent killed outright runs no ``finally``: the kernel ends its children."""
    parent = textwrap.dedent("""
        import os, sys, time
        from scribe.writing.parallel import merged
        def share(name):
            def run():
                with open(os.path.join(sys.argv[1], "." + name), "w") as file:
                    file.write(str(os.getpid()))
                os.rename(os.path.join(sys.argv[1], "." + name), os.path.join(sys.argv[1], name))
                time.sleep(60)
                yield 1
            return run
        list(merged([share("a"), share("b")], lambda item: ({}, []), lambda record: 1))
    """)
    process = subprocess.Popen([sys.executable, "-c", parent, str(tmp_path)])
    deadline = time.monotonic() + 30
    while len(list(tmp_path.glob("[ab]"))) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    children = [int(path.read_text()) for path in tmp_path.glob("[ab]")]  # each written whole, then renamed
    process.kill()
    process.wait()
    deadline = time.monotonic() + 10
    while any(running(pid) for pid in children) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(children) == 2 and not any(running(pid) for pid in children)


def test_no_fork_while_another_thread_runs() -> None:
    stop = threading.Event()
    other = threading.Thread(target=stop.wait)
    other.start()
    try:
        assert not parallel.can_fork()
    finally:
        stop.set()
        other.join()


@forking
def test_sampled_lines_are_the_same_wherever_their_share_ran(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, forks: list[int]
) -> None:
    model = load_inference_model(tiny_model_file(tmp_path / "tiny.npz"))
    texts = ["the quick brown fox", "jumps over", "the lazy dog", "a", "and runs far away"]
    forked = sample_lines(model, texts, seed=4, attempts=3)
    assert len(forks) == 2
    monkeypatch.setattr(parallel, "can_fork", lambda: False)
    here = sample_lines(model, texts, seed=4, attempts=3)
    for a, b in zip(forked, here):
        assert (a.text, a.steps, a.finished, a.problems) == (b.text, b.steps, b.finished, b.problems)
        np.testing.assert_array_equal(a.offsets, b.offsets)
        np.testing.assert_array_equal(a.focus, b.focus)
