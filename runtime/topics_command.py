"""`fraudwatch topics`: create every topic and list them (compose.yaml's topic-init step).

The topics are created by ``runtime.cli.main`` before any command that talks to a broker, so this
command only has to say what exists; it exits when done, which a one-shot init step needs.
"""

from __future__ import annotations

from faust.cli import AppCommand

from agents.app import app
from config import get_settings
from config.topics import topic_specs


@app.command()
async def topics(self: AppCommand) -> None:
    """Create every topic fraudwatch uses (if missing) and list them with partitions and cleanup policy."""
    for spec in topic_specs(get_settings()):
        policy = "compact" if spec.compacted else "delete"
        self.say(f"{spec.name}\tpartitions={spec.partitions}\tcleanup.policy={policy}")
