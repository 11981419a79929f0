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
while this process runs no other thread: a fork copies the locks other threads hold
(in BLAS or the allocator) as held, and a child that waited on one would never end.
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
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np

from scribe.errors import ScribeError, reason

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
        """Stop the child if it still runs, and reap it."""
        if not self.ended:
            os.kill(self.pid, signal.SIGKILL)
        os.waitpid(self.pid, 0)
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
        for share in shares:
            children.append(_fork(share, to_record, [child.pipe for child in children]))
    except OSError:
        for child in children:
            child.close()
        yield from _taking_turns([share() for share in shares])
        return
    try:
        running = {child.pipe: child for child in children}
        waiting = select.poll()  # not select.select: it fails on descriptors past 1024, as a busy server has
        for pipe in running:
            waiting.register(pipe, select.POLLIN)
        while running:
            for pipe, _ in waiting.poll():
                header, arrays = _read_record(pipe)
                if "error" in header:
                    raise ScribeError(header["error"])
                if header.get("end"):
                    running.pop(pipe).ended = True
                    waiting.unregister(pipe)
                else:
                    yield from_record((header, arrays))
    finally:
        for child in children:
            child.close()


def _fork(share: Callable[[], Iterator[Item]], to_record: Callable[[Item], Record], inherited: list[int]) -> _Child:
    """Start ``share`` in a forked child that writes its items, then an end (or an error) record, to a pipe."""
    read_end, write_end = os.pipe()
    parent = os.getpid()
    try:
        pid = os.fork()
    except OSError:
        os.close(read_end)
        os.close(write_end)
        raise
    if pid:
        os.close(write_end)
        return _Child(pid, read_end)
    status = 0
    try:  # the child: nothing here may return into the parent's code
        _end_with(parent)
        for descriptor in [read_end, *inherited]:
            os.close(descriptor)
        for item in share():
            _write_record(write_end, to_record(item))
        _write_record(write_end, ({"end": True}, []))
    except BaseException as exc:  # noqa: BLE001 - every failure goes back to the parent as one line
        status = 1
        message = str(exc) if isinstance(exc, ScribeError) else f"a sampling process failed: {reason(exc)}"
        try:
            _write_record(write_end, ({"error": message}, []))
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
