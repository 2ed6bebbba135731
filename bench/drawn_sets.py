"""The drawn parameter sets' key parameters and what they simulate to (issue 8, session 11).

    .venv/bin/python -m bench.drawn_sets 0 1 2 3 4 5 [--customers 2000 --terminals 4000 --seed 0]

A drawn set (``drawn-N``, producers/handbook.py ``drawn``) is a whole ``HandbookScenario`` drawn with
seed N from ranges written down before any run. This prints, per draw, the parameters that shape the
fraud and its labels, and, simulated at the benches' size and seed, the fraud share of the payments
and each pattern's part of it: the table to read ``bench.ranking_gap --sets drawn-N`` beside.
"""

from __future__ import annotations

import argparse

from bench.handbook_features import Protocol
from producers.handbook import DRAWN_PREFIX, SCENARIO_PATTERNS, HandbookScenario, profile, simulate

HEADER = (
    "| set | radius | mean amounts | a day | limit | terminals a day x days | cards a day x days, share, x "
    "| delay days (90 %) | reported | fraud | limit / terminal / card |"
)


def row(name: str, scenario: HandbookScenario, seed: int) -> str:
    data = simulate(scenario, seed)
    fraud = data.is_fraud
    parts = [int((data.scenario_number == number).sum()) for number in range(1, len(SCENARIO_PATTERNS))]
    low, high = scenario.mean_amount_range
    spread = "" if scenario.label_delay_max_days is None else f"-{scenario.label_delay_max_days:.1f}"
    return (
        f"| {name} | {scenario.radius:.1f} | {low:.0f}-{high:.0f} "
        f"| {scenario.payments_per_day_range[0]:.1f}-{scenario.payments_per_day_range[1]:.1f} "
        f"| {scenario.fraud_amount_limit:.0f} "
        f"| {scenario.compromised_terminals_per_day} x {scenario.terminal_compromise_days} "
        f"| {scenario.compromised_customers_per_day} x {scenario.customer_compromise_days}, "
        f"{scenario.customer_fraud_share:.2f}, x{scenario.customer_fraud_amount_multiplier:.1f} "
        f"| {scenario.label_delay_days:.1f}{spread} ({Protocol.for_scenario(scenario).delay_days}) "
        f"| {scenario.reported_share:.2f} | {fraud.mean():.2%} "
        f"| {' / '.join(f'{p / max(int(fraud.sum()), 1):.0%}' for p in parts)} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("draws", nargs="+", type=int)
    parser.add_argument("--customers", type=int, default=2000)
    parser.add_argument("--terminals", type=int, default=4000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    print(HEADER)
    print("|---" * (HEADER.count("|") - 1) + "|")
    for draw in args.draws:
        name = f"{DRAWN_PREFIX}{draw}"
        scenario = profile(name, customers=args.customers, terminals=args.terminals)
        print(row(name, scenario, args.seed), flush=True)
    handbook = profile("handbook", customers=args.customers, terminals=args.terminals)
    print(row("handbook", handbook, args.seed))


if __name__ == "__main__":
    main()
