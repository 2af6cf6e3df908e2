"""Capture of a function process's stdout and stderr, cut into per-invocation logs.

Lambda sends everything a function writes to CloudWatch Logs, grouped by invocation between
START and END lines. The function process writes both streams into one pipe (so their order is
kept) and the bootstrap writes a marker after each invocation, once the function's output is
flushed. Cutting the captured bytes at the markers assigns every byte to the right invocation,
although the pipe is read by a thread of its own, asynchronously to the Runtime API's callbacks.
The marker embeds a random per-environment token that the function never sees.
"""

from __future__ import annotations

import os
import threading
import time

_HISTORY_LIMIT = 256 * 1024


class OutputCapture:
    """Reads one pipe until EOF; hands out the output up to a marker or everything left."""

    def __init__(self, fd: int, token: str) -> None:
        self._fd = fd
        self._token = token.encode()
        self._buffer = bytearray()
        self._history = bytearray()
        self._eof = False
        self._changed = threading.Condition()
        self._thread = threading.Thread(target=self._read, name="lambda-output", daemon=True)
        self._thread.start()

    def marker(self, label: str) -> bytes:
        return self._token + label.encode() + self._token

    def take_until(self, label: str, timeout: float) -> str:
        """Output up to the marker ``label`` (dropped), or all there is after timeout or EOF."""
        marker = self.marker(label)
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                index = self._buffer.find(marker)
                if index >= 0:
                    chunk = bytes(self._buffer[:index])
                    del self._buffer[: index + len(marker)]
                    return _text(chunk)
                remaining = deadline - time.monotonic()
                if self._eof or remaining <= 0:
                    return self._take_all_locked()
                self._changed.wait(remaining)

    def take_all(self, wait_for_eof: float = 0.0) -> str:
        """Everything captured, after waiting up to ``wait_for_eof`` for the pipe to close."""
        deadline = time.monotonic() + wait_for_eof
        with self._changed:
            while not self._eof and (remaining := deadline - time.monotonic()) > 0:
                self._changed.wait(remaining)
            return self._take_all_locked()

    def history(self) -> str:
        """The last output of the process, for LocalStack's diagnostics."""
        with self._changed:
            return _text(bytes(self._history))

    def _take_all_locked(self) -> str:
        chunk = bytes(self._buffer)
        self._buffer.clear()
        return _text(chunk)

    def _read(self) -> None:
        try:
            while chunk := os.read(self._fd, 65536):
                with self._changed:
                    self._buffer += chunk
                    self._history += chunk.replace(self._token, b"|")
                    del self._history[:-_HISTORY_LIMIT]
                    self._changed.notify_all()
        except OSError:
            pass
        finally:
            os.close(self._fd)
            with self._changed:
                self._eof = True
                self._changed.notify_all()


def _text(chunk: bytes) -> str:
    return chunk.decode("utf-8", errors="replace")
