"""Registers the operations commands: rules, lists, audit, cases (one import in runtime/cli.py)."""

from __future__ import annotations

import runtime.audit_commands
import runtime.cases_commands
import runtime.lists_commands
import runtime.rules_commands

COMMAND_MODULES = (runtime.audit_commands, runtime.cases_commands, runtime.lists_commands, runtime.rules_commands)
