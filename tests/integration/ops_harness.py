"""Helpers for the operations tests: run a fraudwatch command as an operator does, POST a score request."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from config.rules import DEFAULT_RULES_FILE
from detection.models import Transaction
from tests.integration.harness import REPO


async def fraudwatch(env: dict[str, str], *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """``fraudwatch ARGS`` in a child process with the test's environment."""
    completed = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "runtime.cli", *args],
        cwd=REPO,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )
    if check and completed.returncode != 0:
        raise AssertionError(f"fraudwatch {' '.join(args)} failed ({completed.returncode}):\n{completed.stderr}")
    return completed


def rules_file(path: Path, version: str, **top_level: object) -> Path:
    """The shipped rules file with another version and some top-level values replaced."""
    lines = []
    for line in DEFAULT_RULES_FILE.read_text().splitlines():
        name = line.split("=", 1)[0].strip()
        if name == "version":
            line = f'version = "{version}"'
        elif name in top_level and not line.startswith((" ", "[")):
            line = f"{name} = {top_level[name]}"
        lines.append(line)
    path.write_text("\n".join(lines) + "\n")
    return path


async def score(port: int, transaction: Transaction, learn: bool = False) -> tuple[int, Any]:
    import aiohttp

    body = {"transaction": transaction.model_dump(mode="json", exclude_none=True), "learn": learn}
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"http://127.0.0.1:{port}/api/score", json=body) as response,
    ):
        return response.status, await response.json(content_type=None)
