"""The bench's empty-agent ceiling binds the run's web port: two runs at once must not share Faust's 6066."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_the_empty_agent_binds_the_port_its_run_was_given() -> None:
    # `faust worker` binds its web server even with web_enabled=False; on 6066 a second run's empty
    # agent failed to bind and hung until the bench's timeout.
    env = {**os.environ, "FRAUDWATCH_WEB_PORT": "6123", "FRAUDWATCH_WEB_HOST": "127.0.0.1"}
    shown = subprocess.run(
        [sys.executable, "-c", "import bench.worker_empty_agent as m; print(m.app.conf.web_port, m.app.conf.web_bind)"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert shown.stdout.split() == ["6123", "127.0.0.1"]
