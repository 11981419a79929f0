"""Shares of work run side by side in forked processes, where the machine has the cores for them.

Sampling a page is hundreds of small steps, each too small to split across cores,
so the lines of a text are dealt into shares instead (:mod:`scribe.writing.sampling`),
each sampled in a batch of its own, and :func:`merged` runs the shares side by side.
Where it can, each share runs in a child process forked after the model is loaded:
it starts in milliseconds, shares the model's memory, and sends its results back
over a pipe as they come, as plain arrays and JSON (never pickle); it ends with
its parent, even one killed outright, and a pipe that fills up holds it back, so it
runs at most a few lines ahead of what the parent has taken. Elsewhere the
shares take turns in this process, one result each. Either way each share computes
the same thing, so the results do not depend on where they ran.

A child is forked only on Linux, with at least two cores free to this process, and
while this process runs no other Python thread: a fork copies the locks other
threads hold as held, and a child that waited on one would never end. (BLAS's own
threads are not counted: OpenBLAS readies itself for a fork, and a child computes on
one thread.)
"""

from __future__ import annotations

import ctypes
import io
import json
import os
import select
import signal
import sys
import threading
import traceback
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np

from scribe.errors import ScribeError

Item = TypeVar("Item")
Record = tuple[dict[str, Any], list[np.ndarray]]  # a result as plain data: a JSON header and arrays
LENGTH_BYTES = 8  # each record on a pipe is its length, then an .npz holding the header and arrays


def can_fork() -> bool:
    """Whether shares may run in forked children here (see the module's docstring)."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1
    return sys.platform.startswith("linux") and cores >= 2 and threading.active_count() == 1


def merged(
    shares: Sequence[Callable[[], Iterator[Item]]],
    to_record: Callable[[Item], Record],
    from_record: Callable[[Record], Item],
) -> Iterator[Item]:
    """Every item of every share, each share's in its own order, as they come.

    A share is a function that starts its iterator; in a child it is called there,
    so all its work happens there. ``to_record`` and ``from_record`` carry an item
    across a pipe.
    """
    if len(shares) > 1 and can_fork():
        yield from _from_children(shares, to_record, from_record)
    else:
        yield from _taking_turns([share() for share in shares])


def _taking_turns(iterators: list[Iterator[Item]]) -> Iterator[Item]:
    """One item of each iterator in turn, until all are spent."""
    active = list(iterators)
    while active:
        for iterator in list(active):
            try:
                yield next(iterator)
            except StopIteration:
                active.remove(iterator)


@dataclass
class _Child:
    """A forked child running one share, and the read end of its pipe."""

    pid: int
    pipe: int  # file descriptor
    ended: bool = False

    def close(self) -> None:
        """Stop the child if it still runs, reap it and close its pipe; never raises."""
        try:
            if not self.ended:
                os.kill(self.pid, signal.SIGKILL)
            os.waitpid(self.pid, 0)
        except (ProcessLookupError, ChildProcessError):
            pass  # already reaped: a process that ignores SIGCHLD has the kernel reap its children
        finally:
            os.close(self.pipe)


def _from_children(
    shares: Sequence[Callable[[], Iterator[Item]]],
    to_record: Callable[[Item], Record],
    from_record: Callable[[Record], Item],
) -> Iterator[Item]:
    """Each share in a forked child; their items as they arrive. Children are stopped however this ends.

    Where the system refuses a fork (no memory or processes to spare), the shares
    take turns in this process instead.
    """
    children: list[_Child] = []
    try:
        try:
            for share in shares:
                _fork(share, to_record, children)
        except OSError:
            while children:
                children.pop().close()
            yield from _taking_turns([share() for share in shares])
            return
        running = {child.pipe: child for child in children}
        waiting = select.poll()  # not select.select: it fails on descriptors past 1024, as a busy server has
        for pipe in running:
            waiting.register(pipe, select.POLLIN)
        while running:
            for pipe, _ in waiting.poll():
                header, arrays = _read_record(pipe)
                if "error" in header:
                    raise ScribeError(header["error"]) if header.get("expected") else RuntimeError(header["error"])
                if header.get("end"):
                    running.pop(pipe).ended = True
                    waiting.unregister(pipe)
                else:
                    yield from_record((header, arrays))
    finally:
        for child in children:
            child.close()


def _fork(share: Callable[[], Iterator[Item]], to_record: Callable[[Item], Record], children: list[_Child]) -> None:
    """Start ``share`` in a forked child, added to ``children``, that writes its items, then an end (or an error) record.

    Ctrl-C is held back while forking and ignored in the child: only the parent
    answers it (and stops the children), and a child never leaves this function.
    """
    read_end, write_end = os.pipe()
    parent = os.getpid()
    held = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        pid = os.fork()
        if pid:
            os.close(write_end)
            children.append(_Child(pid, read_end))
    except OSError:
        os.close(read_end)
        os.close(write_end)
        raise
    finally:
        if os.getpid() == parent:
            signal.pthread_sigmask(signal.SIG_SETMASK, held)
    if not pid:
        _run_child(share, to_record, parent, write_end, [read_end, *(child.pipe for child in children)])


def _run_child(share: Callable[[], Iterator[Item]], to_record: Callable[[Item], Record], parent: int, pipe: int,
               inherited: list[int]) -> None:
    """The child: write ``share``'s items to ``pipe``, then an end or an error record, and exit; never returns."""
    status = 0
    try:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
        _end_with(parent)
        for descriptor in inherited:
            os.close(descriptor)
        for item in share():
            _write_record(pipe, to_record(item))
        _write_record(pipe, ({"end": True}, []))
    except BaseException as exc:  # noqa: BLE001 - every failure goes back to the parent
        status = 1
        expected = isinstance(exc, ScribeError)  # a bug keeps its traceback, as in one process
        message = str(exc) if expected else "a sampling process failed:\n" + "".join(traceback.format_exception(exc))
        try:
            _write_record(pipe, ({"error": message, "expected": expected}, []))
        except OSError:
            pass  # the parent has gone
    finally:
        os._exit(status)


def _end_with(parent: int) -> None:
    """Have the kernel stop this child when ``parent`` ends, however it ends (a SIGTERM runs no ``finally``)."""
    set_parent_death_signal = 1  # prctl's PR_SET_PDEATHSIG (linux/prctl.h)
    ctypes.CDLL(None, use_errno=True).prctl(set_parent_death_signal, signal.SIGKILL)
    if os.getppid() != parent:  # it ended before the signal was asked for
        os._exit(1)


def _write_record(pipe: int, record: Record) -> None:
    header, arrays = record
    buffer = io.BytesIO()
    np.savez(buffer, np.array(json.dumps(header)), *arrays)  # stored as arr_0 (the header), arr_1, ...
    payload = buffer.getvalue()
    data = memoryview(len(payload).to_bytes(LENGTH_BYTES, "little") + payload)
    while data:
        data = data[os.write(pipe, data) :]


def _read_exactly(pipe: int, size: int) -> bytes:
    chunks, left = [], size
    while left:
        chunk = os.read(pipe, min(left, 1 << 20))
        if not chunk:
            raise ScribeError("a sampling process stopped before it sent its lines (out of memory?); try again")
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def _read_record(pipe: int) -> Record:
    size = int.from_bytes(_read_exactly(pipe, LENGTH_BYTES), "little")
    with np.load(io.BytesIO(_read_exactly(pipe, size)), allow_pickle=False) as stored:
        header = json.loads(str(stored["arr_0"]))
        arrays = [stored[f"arr_{k}"] for k in range(1, len(stored.files))]
    return header, arrays
