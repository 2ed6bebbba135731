"""`fraudwatch generate --profile handbook[...]`: the options of the Handbook-design simulator.

The options override one parameter of the chosen profile each; unset, the profile's value holds
(see producers/handbook.py for the profiles and what each parameter means).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
from faust.cli import option

from producers.handbook import DRAWN_PREFIX, PROFILES, profile, simulate
from producers.handbook_files import write_handbook_files

#: The project's own generator (producers/generator.py); every other profile is a Handbook design.
DEFAULT_PROFILE = "default"
PROFILE_NAMES = (DEFAULT_PROFILE, *PROFILES)


class ProfileName(click.ParamType):
    """A profile's name: one of :data:`PROFILE_NAMES`, or ``drawn-N`` (any N), the parameter set drawn
    with seed N (producers/handbook.py ``drawn``), as the benches take it. ``profile`` decides what is
    a Handbook profile, so the command accepts exactly what the benches do."""

    name = "profile"

    def get_metavar(self, param: click.Parameter, ctx: click.Context) -> str | None:
        return f"[{'|'.join(PROFILE_NAMES)}|{DRAWN_PREFIX}N]"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        name = str(value)
        if name != DEFAULT_PROFILE:
            try:
                profile(name)
            except ValueError as error:
                self.fail(f"{error} (or {DEFAULT_PROFILE})", param, ctx)
        return name


#: (option, scenario field, type, help) for each simulation parameter exposed on the command line.
_PARAMETERS: tuple[tuple[str, str, type, str], ...] = (
    ("--terminals", "terminals", int, "Terminals on the grid."),
    ("--days", "days", int, "Days simulated from the profile's start date."),
    ("--radius", "radius", float, "Customers pay at terminals closer than this (grid of 100x100)."),
    ("--fraud-amount-limit", "fraud_amount_limit", float, "Scenario 1: payments above this amount are fraud."),
    ("--compromised-terminals-per-day", "compromised_terminals_per_day", int, "Scenario 2: terminals a day."),
    ("--terminal-compromise-days", "terminal_compromise_days", int, "Scenario 2: days a terminal stays compromised."),
    ("--compromised-customers-per-day", "compromised_customers_per_day", int, "Scenario 3: cards a day."),
    ("--customer-compromise-days", "customer_compromise_days", int, "Scenario 3: days a card stays compromised."),
    ("--customer-fraud-share", "customer_fraud_share", float, "Scenario 3: share of its payments that are fraud."),
    (
        "--customer-fraud-amount-multiplier",
        "customer_fraud_amount_multiplier",
        float,
        "Scenario 3: fraudulent amounts are multiplied by this.",
    ),
    ("--label-delay-days", "label_delay_days", float, "Chargebacks are known this many days after the payment."),
)

HANDBOOK_OPTIONS = [
    option(
        "--profile",
        type=ProfileName(),
        default=DEFAULT_PROFILE,
        show_default=True,
        help="'default': the project's own generator. 'handbook': the Fraud Detection Handbook's simulator "
        "design with its published parameters (5 000 customers, 10 000 terminals, 183 days from 2018-04-01); "
        "'handbook-variant-*': the same design with other fraud scenarios; "
        f"'{DRAWN_PREFIX}N' (N = 0, 1, ...): the same design with every parameter drawn with seed N from ranges "
        "written down before any run (the benches' drawn sets). Handbook profiles need --output-dir.",
    ),
    *(
        option(flag, type=kind, default=None, show_default=False, help=f"Handbook profiles: {text}")
        for flag, _, kind, text in _PARAMETERS
    ),
    option(
        "--feedback-with-terminal/--feedback-without-terminal",
        default=False,
        show_default=True,
        help="Handbook profiles: chargebacks also name the terminal (real ones often carry only the "
        "transaction and the card).",
    ),
]


def generate_handbook_files(
    output_dir: Path,
    profile_name: str,
    *,
    seed: int,
    customers: int | None,
    feedback_with_terminal: bool,
    **parameters: Any,
) -> dict[str, int]:
    """Simulate the named profile (with the options given) and write its JSONL files."""
    overrides = {field: parameters.get(field) for _, field, _, _ in _PARAMETERS}
    scenario = profile(profile_name, customers=customers, **overrides)
    return write_handbook_files(
        simulate(scenario, seed), output_dir, seed=seed, feedback_with_terminal=feedback_with_terminal
    )
