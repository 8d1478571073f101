"""One long-lived Apertium pipeline: the mode's stages as processes, in null-flush mode.

Each text is written followed by a NUL byte; every stage flushes its output when it reads a
NUL, so the answer comes back NUL-terminated in a few milliseconds, without starting a process
per sentence. The stages are started here (not through a shell) so that each one is watched:
a pipeline with any stage gone is started again, and one that does not answer in time is
killed and reported as unavailable. Writing and reading are interleaved so that a long text
never deadlocks on full pipe buffers.
"""

from __future__ import annotations

import os
import select
import signal
import subprocess
import threading
import time
from collections.abc import Sequence

from parley.errors import EngineUnavailable
from parley.logs import get_logger

log = get_logger(__name__)

_CHUNK = 65536


class PipelineDied(Exception):
    """A stage exited, or the pipeline closed its input or output."""


class Pipeline:
    """A running pipeline for one direction, used by one thread at a time.

    Args:
        name: direction, for logs and errors (``eng-spa``).
        stages: the command line of each stage, in order; together they read text on stdin
            and write text on stdout, with NUL-terminated units.
        timeout_s: longest wait for one batch, plus ``timeout_s`` per 10,000 bytes of input.
    """

    def __init__(self, name: str, stages: Sequence[Sequence[str]], timeout_s: float) -> None:
        if not stages:
            raise ValueError("a pipeline needs at least one stage")
        self.name = name
        self._stages = [list(stage) for stage in stages]
        self._timeout_s = timeout_s
        self._processes: list[subprocess.Popen] = []
        self._lock = threading.Lock()
        self.starts = 0

    @property
    def pids(self) -> list[int]:
        """Process ids of the running stages, first to last (empty when stopped)."""
        return [process.pid for process in self._processes if process.poll() is None]

    def exchange(self, units: Sequence[bytes]) -> list[bytes]:
        """Sends each unit NUL-terminated and returns the answer to each, in order.

        A pipeline found broken, before or after the exchange, is started again and the
        exchange retried, once per call.

        Raises:
            EngineUnavailable: the pipeline cannot start, broke twice, or did not answer in time.
        """
        if not units:
            return []
        payload = b"".join(unit.replace(b"\0", b"") + b"\0" for unit in units)
        timeout = self._timeout_s * (1 + len(payload) / 10_000)
        with self._lock:
            for attempt in (1, 2):
                self._ensure_running()
                try:
                    answers = _exchange(self._processes, payload, len(units), timeout)
                    # A stage that died under this batch shows as a dead process, or, when its
                    # death is not yet visible, as stages after it flushing empty answers.
                    if self._alive() and (attempt == 2 or not _emptied(units, answers)):
                        return answers
                except PipelineDied:
                    pass
                except TimeoutError:
                    self._kill()
                    raise EngineUnavailable(
                        f"apertium {self.name} did not answer within {timeout:.0f} s; "
                        "its pipeline was stopped and starts again on the next request"
                    ) from None
                log.warning("apertium pipeline broke", direction=self.name, attempt=attempt)
                self._kill()
        raise EngineUnavailable(f"apertium {self.name} pipeline keeps dying")

    def start(self) -> None:
        """Starts the pipeline now if it is not running."""
        with self._lock:
            self._ensure_running()

    def close(self) -> None:
        """Stops the pipeline."""
        with self._lock:
            self._kill()

    def _alive(self) -> bool:
        return bool(self._processes) and all(p.poll() is None for p in self._processes)

    def _ensure_running(self) -> None:
        if self._alive():
            return
        if self._processes:
            codes = [p.returncode for p in self._processes]
            log.warning(
                "apertium pipeline stopped; starting it again", direction=self.name, codes=codes
            )
            self._kill()
        try:
            self._processes = _spawn(self._stages)
        except OSError as exc:
            self._kill()
            raise EngineUnavailable(f"cannot start apertium {self.name}: {exc}") from exc
        self.starts += 1
        log.info("apertium pipeline started", direction=self.name, pid=self._processes[0].pid)

    def _kill(self) -> None:
        processes, self._processes = self._processes, []
        if not processes:
            return
        try:
            os.killpg(processes[0].pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        for process in processes:
            if process.poll() is None:
                process.kill()
            for stream in (process.stdin, process.stdout):
                if stream is not None:
                    stream.close()
            process.wait()


def _spawn(stages: list[list[str]]) -> list[subprocess.Popen]:
    """Starts the stages, each reading the previous one's output, in one new process group.

    The group (led by the first stage) lets one killpg stop them all, and keeps them out of
    the terminal's Ctrl-C; the stages also end by themselves when this process dies and their
    input closes.
    """
    processes: list[subprocess.Popen] = []
    for argv in stages:
        first = not processes
        processes.append(
            subprocess.Popen(
                argv,
                stdin=subprocess.PIPE if first else processes[-1].stdout,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                bufsize=0,
                process_group=0 if first else processes[0].pid,
            )
        )
        if not first:
            # only the next stage may hold this pipe, so that EOF and SIGPIPE travel
            processes[-2].stdout.close()  # type: ignore[union-attr]
            processes[-2].stdout = None
    assert processes[0].stdin is not None
    os.set_blocking(processes[0].stdin.fileno(), False)
    return processes


def _exchange(
    processes: list[subprocess.Popen], payload: bytes, count: int, timeout: float
) -> list[bytes]:
    """Writes ``payload`` to the first stage while reading answers from the last one until
    ``count`` NULs came back.

    Raises:
        PipelineDied: end of output or a broken input pipe.
        TimeoutError: no complete answer within ``timeout`` seconds.
    """
    stdin, stdout = processes[0].stdin, processes[-1].stdout
    assert stdin is not None and stdout is not None
    in_fd, out_fd = stdin.fileno(), stdout.fileno()
    poller = select.poll()
    poller.register(out_fd, select.POLLIN)
    poller.register(in_fd, select.POLLOUT)
    deadline = time.monotonic() + timeout
    sent, received, chunks = 0, 0, []
    while received < count:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError
        for fd, event in poller.poll(remaining * 1000):
            if fd == in_fd:
                if event & (select.POLLERR | select.POLLHUP):
                    raise PipelineDied
                sent += _write(in_fd, payload, sent)
                if sent == len(payload):
                    poller.unregister(in_fd)
            else:
                data = os.read(out_fd, _CHUNK)
                if not data:
                    raise PipelineDied
                chunks.append(data)
                received += data.count(b"\0")
    return b"".join(chunks).split(b"\0")[:count]


def _emptied(units: Sequence[bytes], answers: list[bytes]) -> bool:
    """True if some unit with words in it came back empty."""
    return any(
        unit.strip() and not answer.strip() for unit, answer in zip(units, answers, strict=False)
    )


def _write(fd: int, payload: bytes, sent: int) -> int:
    try:
        return os.write(fd, payload[sent : sent + _CHUNK])
    except BlockingIOError:
        return 0
    except OSError as exc:  # BrokenPipeError: the first stage is gone
        raise PipelineDied from exc
