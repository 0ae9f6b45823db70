"""Starting the emulator from Python tests.

``running_emulator`` runs the real CLI (``python -m reconciler emulator``) as a subprocess on a
free port; ``serving_emulator`` runs the same server in a thread of the current process, which
is faster for tests that only speak HTTP to it. Both yield an ``EmulatorHandle``.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import selectors
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any, Final
from urllib.request import urlopen

LISTENING_RE: Final = re.compile(r"listening on (http://\S+)")
START_TIMEOUT: Final = 15.0


class EmulatorHandle:
    """A running emulator: its URL, its state file and its control endpoints."""

    def __init__(self, url: str, state_path: Path, stopper: Any = None) -> None:
        self.url = url
        self.state_path = state_path
        self._stopper = stopper
        self.stderr_path: Path | None = None
        self.process: subprocess.Popen[bytes] | None = None  # the CLI process, if any
        self.log_buffer: io.StringIO | None = None  # the in-process server's log, if any

    def _get(self, path: str) -> Any:
        with urlopen(f"{self.url}{path}", timeout=10) as response:
            return json.loads(response.read())

    def requests(self) -> list[dict[str, Any]]:
        """Every API request served so far: ``GET /_emulator/requests``."""
        result = self._get("/_emulator/requests")
        assert isinstance(result, list)
        return result

    def state(self) -> dict[str, Any]:
        """The whole state, secrets in clear: ``GET /_emulator/state``."""
        result = self._get("/_emulator/state")
        assert isinstance(result, dict)
        return result

    def stderr(self) -> str:
        """What the emulator logged so far (its stderr, or the in-process server's log)."""
        if self.log_buffer is not None:
            return self.log_buffer.getvalue()
        if self.stderr_path is None:
            return ""
        return self.stderr_path.read_text(encoding="utf-8", errors="replace")

    def stop(self) -> None:
        if self._stopper is not None:
            stopper, self._stopper = self._stopper, None
            stopper()


@contextmanager
def running_emulator(
    *args: str, state: dict[str, Any] | None = None, env: Mapping[str, str] | None = None
) -> Iterator[EmulatorHandle]:
    """Starts ``sys.executable -m reconciler emulator --port 0 --state <tmp file> *args``.

    The state is written to the temporary file first when given. Stdout is read until
    ``listening on http://HOST:PORT``; on exit the process gets SIGTERM, then is killed.
    """
    with tempfile.TemporaryDirectory(prefix="symsync-emulator-") as tmp:
        state_path = Path(tmp) / "state.json"
        if state is not None:
            state_path.write_text(json.dumps(state), encoding="utf-8")
        stderr_path = Path(tmp) / "stderr.log"
        command = [
            sys.executable, "-m", "reconciler", "emulator", "--port", "0",
            "--state", str(state_path), *args,
        ]  # fmt: skip
        full_env = {**os.environ, **(env or {}), "PYTHONUNBUFFERED": "1"}
        with open(stderr_path, "wb") as stderr_file:
            process = subprocess.Popen(
                command, stdout=subprocess.PIPE, stderr=stderr_file, env=full_env
            )
        assert process.stdout is not None
        try:
            url = _wait_for_url(process, process.stdout, stderr_path)

            def stop() -> None:
                _terminate(process)

            handle = EmulatorHandle(url, state_path, stop)
            handle.stderr_path = stderr_path
            handle.process = process
            yield handle
        finally:
            _terminate(process)
            process.stdout.close()


def _wait_for_url(process: subprocess.Popen[bytes], stdout: IO[bytes], stderr_path: Path) -> str:
    deadline = time.monotonic() + START_TIMEOUT
    buffer = b""
    with selectors.DefaultSelector() as selector:
        selector.register(stdout, selectors.EVENT_READ)
        while time.monotonic() < deadline:
            if not selector.select(timeout=0.1):
                if process.poll() is not None:
                    break
                continue
            chunk = os.read(stdout.fileno(), 4096)
            if not chunk:
                break
            buffer += chunk
            match = LISTENING_RE.search(buffer.decode("utf-8", errors="replace"))
            if match:
                return match.group(1)
    process.kill()
    process.wait()
    errors = stderr_path.read_text(encoding="utf-8", errors="replace")
    raise RuntimeError(f"emulator did not start (exit {process.returncode}): {errors.strip()}")


def _terminate(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=5)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@contextmanager
def serving_emulator(
    state: dict[str, Any] | None = None,
    *,
    state_path: Path | None = None,
    log: IO[str] | None = None,
    **settings: Any,
) -> Iterator[EmulatorHandle]:
    """Runs the emulator in a thread of this process on a free port (fast, for HTTP tests).

    ``settings`` are fields of ``reconciler.emulator.server.Settings`` (``tokens``,
    ``generation``, ``latency_ms``, ...). The state is saved to ``state_path`` when given, or
    to a temporary file otherwise. The request log goes to ``log`` when given, else to a buffer
    that ``handle.stderr()`` returns.
    """
    from reconciler.emulator.server import Emulator, Settings
    from reconciler.emulator.state import EmulatorState

    with contextlib.ExitStack() as stack:
        if state_path is None:
            tmp = stack.enter_context(tempfile.TemporaryDirectory(prefix="symsync-emulator-"))
            state_path = Path(tmp) / "state.json"
        if state is not None:
            emulator_state = EmulatorState.from_dict(state, state_path)
        else:
            emulator_state = EmulatorState.load(state_path)
        settings.setdefault("port", 0)
        buffer = io.StringIO() if log is None else None
        emulator = Emulator(Settings(**settings), emulator_state, log=log or buffer)
        thread = threading.Thread(target=emulator.serve_forever, daemon=True)
        thread.start()
        stopped = threading.Event()

        def stop() -> None:
            if not stopped.is_set():
                stopped.set()
                emulator.shutdown()
                thread.join(timeout=5)

        handle = EmulatorHandle(emulator.url, state_path, stop)
        handle.log_buffer = buffer
        try:
            yield handle
        finally:
            stop()
