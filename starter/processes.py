"""A child process with its output in a log file, stopped politely.

`supportflow up` runs the dev server, the worker and later the gateway this
way. Each child gets a session of its own, so a Ctrl-C in the terminal
reaches only `up`, which then stops the children in order: the worker before
the server it talks to.
"""

from __future__ import annotations

import asyncio
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TextIO


class ChildProcess:
    def __init__(self, name: str, command: Sequence[str], log_file: Path, env: Mapping[str, str] | None = None):
        self.name = name
        self.command = list(command)
        self.log_file = log_file
        self.env = dict(env) if env is not None else None
        self._process: subprocess.Popen[bytes] | None = None
        self._log: TextIO | None = None

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    @property
    def returncode(self) -> int | None:
        return self._process.returncode if self._process is not None else None

    def start(self) -> None:
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        self._log = self.log_file.open("a", encoding="utf-8")
        self._log.write(f"\n--- supportflow: starting {' '.join(self.command)}\n")
        self._log.flush()
        self._process = subprocess.Popen(
            self.command,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env=self.env,
            start_new_session=True,
        )

    async def stop(self, timeout: float = 10.0) -> int | None:
        """SIGTERM, then SIGKILL after `timeout` seconds. Returns the exit code (None if never started)."""
        process = self._process
        code = None
        if process is not None:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                deadline = time.monotonic() + timeout
                while process.poll() is None and time.monotonic() < deadline:
                    await asyncio.sleep(0.05)
                if process.poll() is None:
                    process.kill()
                    await asyncio.to_thread(process.wait)
            code = process.returncode
        if self._log is not None:
            self._log.close()
            self._log = None
        return code

    def exit_report(self) -> str:
        """Why it stopped, in the words of its own log."""
        return f"the {self.name} exited with code {self.returncode}; {self.log_file} ends with:\n{self.log_tail()}"

    def log_tail(self, lines: int = 20) -> str:
        try:
            text = self.log_file.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])
