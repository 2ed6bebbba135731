from __future__ import annotations

import hashlib
import json
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest

from detection.models import Feedback, Transaction
from producers.handbook import PROFILES, SCENARIO_PATTERNS, SECONDS_PER_DAY, HandbookScenario, profile, simulate
from producers.handbook_files import write_handbook_files

SMALL = HandbookScenario(customers=400, terminals=800, days=60)


def test_same_seed_same_data_and_another_seed_other_data() -> None:
    first, again, other = simulate(SMALL, 1), simulate(SMALL, 1), simulate(SMALL, 2)
    assert np.array_equal(first.seconds, again.seconds) and np.array_equal(first.amount, again.amount)
    assert np.array_equal(first.scenario_number, again.scenario_number)
    assert len(first) != len(other) or not np.array_equal(first.amount, other.amount)


def test_payments_follow_the_design() -> None:
    data = simulate(SMALL, 3)
    assert np.all(np.diff(data.seconds) >= 0)
    time_of_day = data.seconds % 86_400
    assert abs(np.median(time_of_day) - 43_200) < 1_500  # around noon
    assert data.day.max() < SMALL.days and data.amount.min() >= 0.01
    # Poisson counts around a mean uniform in (0, 4) a day: about 2 a day per customer, fewer
    # where a draw falls outside the day or no terminal is in reach.
    per_customer_day = len(data) / (SMALL.customers * SMALL.days)
    assert 1.4 < per_customer_day < 2.1


def test_each_scenario_has_its_designed_share() -> None:
    scenario = HandbookScenario(customers=1000, terminals=2000, days=90)
    data = simulate(scenario, 4)
    genuine_amounts = data.amount[data.scenario_number == 0]
    assert genuine_amounts.max() <= scenario.fraud_amount_limit  # scenario 1 catches every larger amount
    assert np.all(data.amount[data.scenario_number == 1] > scenario.fraud_amount_limit)
    # Scenario 3: about a third of a compromised card's payments, with the amount multiplied by 5.
    card = data.scenario_number == 3
    assert card.sum() > 100 and np.median(data.amount[card]) > 3 * np.median(genuine_amounts)
    # Scenario 2: all payments at a compromised terminal are fraud; 2 terminals a day for 28 days
    # is about 2 x 28 / 2000 of all terminal-days.
    share_terminal = (data.scenario_number == 2).mean()
    assert 0.5 * 56 / 2000 < share_terminal < 1.5 * 56 / 2000
    share_card = card.mean()
    expected_card = 3 * 14 / 1000 / 3  # cards a day x days compromised / customers x share
    assert 0.5 * expected_card < share_card < 1.5 * expected_card


def test_profiles_differ_and_options_override_them() -> None:
    assert {"handbook", "handbook-variant-a", "handbook-variant-b"} <= set(PROFILES)
    assert PROFILES["handbook"] == HandbookScenario()
    variants = [PROFILES[name] for name in PROFILES if name != "handbook"]
    assert all(v.terminal_compromise_days != 28 and v.label_delay_days != 7 for v in variants)
    assert profile("handbook-variant-a", days=10, radius=None).days == 10
    assert profile("handbook-variant-a", radius=None).radius == PROFILES["handbook-variant-a"].radius
    with pytest.raises(ValueError, match="unknown profile"):
        profile("nope")
    with pytest.raises(ValueError):
        HandbookScenario(customers=2, compromised_customers_per_day=3)


def test_files_hold_valid_contracts_and_a_delayed_chargeback_per_fraud(tmp_path: Path) -> None:
    data = simulate(HandbookScenario(customers=150, terminals=300, days=30), 5)
    written = write_handbook_files(data, tmp_path, seed=5)
    lines = (tmp_path / "transactions.jsonl").read_text().splitlines()
    transactions = [Transaction.model_validate_json(line) for line in lines]
    chargebacks = [
        Feedback.model_validate_json(line) for line in (tmp_path / "feedback.jsonl").read_text().splitlines()
    ]
    assert written == {"transactions.jsonl": len(data), "feedback.jsonl": len(chargebacks)}
    assert all(t.currency == "EUR" and t.timestamp.utcoffset() == timedelta(0) for t in transactions)
    frauds = {t.transaction_id: t for t in transactions if t.is_fraud}
    assert {t.fraud_pattern for t in frauds.values()} <= set(SCENARIO_PATTERNS[1:])
    assert all(t.fraud_pattern is None for t in transactions if not t.is_fraud)
    assert [c.transaction_id for c in chargebacks] == list(frauds)
    for chargeback in chargebacks:
        fraud = frauds[chargeback.transaction_id]
        assert chargeback.known_at - fraud.timestamp == timedelta(days=7)
        assert chargeback.customer_id == fraud.customer_id and chargeback.terminal_id is None
    summary = json.loads((tmp_path / "scenario.json").read_text())
    assert summary["frauds"] == len(chargebacks) and summary["parameters"]["radius"] == 5.0


def test_chargebacks_can_name_the_terminal(tmp_path: Path) -> None:
    data = simulate(HandbookScenario(customers=100, terminals=200, days=20), 6)
    write_handbook_files(data, tmp_path, seed=6, feedback_with_terminal=True)
    first = Feedback.model_validate_json((tmp_path / "feedback.jsonl").read_text().splitlines()[0])
    assert first.terminal_id is not None and first.terminal_id.startswith("T")


def test_command_options_reach_the_simulation(tmp_path: Path) -> None:
    from runtime.handbook_commands import generate_handbook_files

    written = generate_handbook_files(
        tmp_path, "handbook-variant-b", seed=1, customers=80, feedback_with_terminal=False, days=12, terminals=None
    )
    summary = json.loads((tmp_path / "scenario.json").read_text())
    assert summary["parameters"]["customers"] == 80 and summary["parameters"]["days"] == 12
    assert summary["parameters"]["label_delay_days"] == PROFILES["handbook-variant-b"].label_delay_days
    assert written["transactions.jsonl"] == summary["transactions"]


def test_a_slice_of_days_keeps_its_transaction_ids(tmp_path: Path) -> None:
    data = simulate(HandbookScenario(customers=80, terminals=160, days=20), 8)
    middle = data.between_days(5, 10)
    assert middle.day.min() == 5 and middle.day.max() == 9
    write_handbook_files(middle, tmp_path, seed=8)
    first = Transaction.model_validate_json((tmp_path / "transactions.jsonl").read_text().splitlines()[0])
    assert first.transaction_id == f"HB{middle.first_row:09d}" and middle.first_row == int((data.day < 5).sum())
    assert first.amount == data.amount[middle.first_row]


#: sha256 of the files main's generator (b07b767, before spread delays and unreported frauds existed)
#: wrote for these profiles at 300 customers, 600 terminals, 40 days, seed 5.
UNCHANGED = {
    "handbook": (
        "2d245aef47da4f644cde00f617315fe799308168cd7d9d9104fc1b656208043b",
        "cc1776dcfaca5a9f580a4181a7b94da74bccf38f4fe7c4595ed81e67f68822e1",
    ),
    "handbook-variant-b": (
        "e916db14a51cbcfa26121e50e5fe3d02bafd284a4754308438bd8f40be9b1969",
        "84d866340940d759dc72d4e816684d0348b05e44520fc045232a61951f3e3d6a",
    ),
}


@pytest.mark.parametrize("name", sorted(UNCHANGED))
def test_the_handbook_structure_writes_the_same_bytes_as_before(name: str, tmp_path: Path) -> None:
    data = simulate(profile(name, customers=300, terminals=600, days=40), 5)
    assert data.label_delay_s is None  # one delay, every fraud reported: no extra draw
    write_handbook_files(data, tmp_path, seed=5)
    written = tuple(
        hashlib.sha256((tmp_path / file).read_bytes()).hexdigest() for file in ("transactions.jsonl", "feedback.jsonl")
    )
    assert written == UNCHANGED[name]


def test_spread_delays_and_unreported_frauds_change_only_the_chargebacks(tmp_path: Path) -> None:
    plain = HandbookScenario(customers=300, terminals=600, days=60)
    changed = replace(plain, label_delay_days=1.0, label_delay_max_days=20.0, reported_share=0.7)
    same, data = simulate(plain, 9), simulate(changed, 9)
    # The payments and their truth are the Handbook's: the new draws come after all of its own.
    assert np.array_equal(same.amount, data.amount) and np.array_equal(same.scenario_number, data.scenario_number)
    assert data.label_delay_s is not None and np.all(np.isinf(data.label_delay_s[~data.is_fraud]))
    reported = np.isfinite(data.known_s)
    assert not (reported & ~data.is_fraud).any()
    assert 0.62 < reported.sum() / data.is_fraud.sum() < 0.78
    delays_days = data.label_delay_s[reported] / SECONDS_PER_DAY
    assert delays_days.min() >= 1 and delays_days.max() <= 20
    assert np.median(delays_days) == pytest.approx(20**0.5, rel=0.15)  # log-uniform: skewed to the short end
    assert changed.label_delay_quantile_days(0.9) == pytest.approx(20**0.9)

    write_handbook_files(data, tmp_path, seed=9)
    transactions = {
        t.transaction_id: t
        for t in (Transaction.model_validate_json(line) for line in (tmp_path / "transactions.jsonl").open())
    }
    chargebacks = [Feedback.model_validate_json(line) for line in (tmp_path / "feedback.jsonl").open()]
    # An unreported fraud is still a fraud in the transactions (the truth judged); it has no chargeback.
    frauds = sum(bool(t.is_fraud) for t in transactions.values())
    assert frauds == data.is_fraud.sum() > len(chargebacks) == reported.sum()
    assert [c.known_at for c in chargebacks] == sorted(c.known_at for c in chargebacks)
    for chargeback in chargebacks:
        row = int(chargeback.transaction_id[2:])
        assert chargeback.known_at.timestamp() == changed.start_timestamp + data.known_s[row]
        assert transactions[chargeback.transaction_id].is_fraud
    summary = json.loads((tmp_path / "scenario.json").read_text())
    assert summary["frauds_reported"] == len(chargebacks) < summary["frauds"]
    with pytest.raises(ValueError):
        replace(plain, reported_share=1.5)
    with pytest.raises(ValueError):
        replace(plain, label_delay_days=5.0, label_delay_max_days=2.0)


def test_a_drawn_set_is_pure_within_its_ranges_and_named_by_its_seed() -> None:
    from producers.handbook import DRAW_RANGES, LONGEST_DRAWN_DELAY_DAYS, drawn

    assert drawn(3) == drawn(3) == profile("drawn-3") and drawn(3) != drawn(4)
    assert profile("drawn-3", customers=200).customers == 200
    with pytest.raises(ValueError, match="drawn-N"):
        profile("drawn-x")
    sets = [drawn(seed) for seed in range(200)]
    for name in ("radius", "amount_std_share", "time_of_day_std_s", "customer_fraud_share"):
        spec = DRAW_RANGES[name]
        assert all(spec.low <= getattr(s, name) <= spec.high for s in sets), name
    for name in ("compromised_terminals_per_day", "terminal_compromise_days", "customer_compromise_days"):
        values = {getattr(s, name) for s in sets}
        assert all(isinstance(v, int) for v in values) and min(values) >= DRAW_RANGES[name].low
        assert max(values) <= DRAW_RANGES[name].high and len(values) > 2, name
    # Both structures come up: one delay for all and a spread (never beyond a month); all or some reported.
    spreads = [s.label_delay_max_days for s in sets if s.label_delay_max_days is not None]
    assert 40 < len(spreads) < 160 and max(spreads) <= LONGEST_DRAWN_DELAY_DAYS
    assert 20 < sum(s.reported_share == 1 for s in sets) < 100
    assert all(s.fraud_amount_limit > s.mean_amount_range[1] > s.mean_amount_range[0] for s in sets)


def test_a_drawn_set_simulates_all_three_patterns() -> None:
    data = simulate(replace(profile("drawn-0"), customers=400, terminals=800, days=60), 0)
    assert {1, 2, 3} >= set(np.unique(data.scenario_number[data.is_fraud]).tolist()) >= {2, 3}


def test_the_generate_command_takes_a_drawn_set_as_the_benches_do_and_its_help_says_so(tmp_path: Path) -> None:
    import click
    from click.testing import CliRunner

    from producers.handbook import drawn
    from runtime.handbook_commands import HANDBOOK_OPTIONS, generate_handbook_files

    @click.command()
    def chosen(profile: str, **_: object) -> None:
        click.echo(profile)

    for handbook_option in reversed(HANDBOOK_OPTIONS):  # the options `fraudwatch generate` has
        chosen = handbook_option(chosen)
    runner = CliRunner()
    assert runner.invoke(chosen, ["--profile", "drawn-8"]).output == "drawn-8\n"
    assert runner.invoke(chosen, []).output == "default\n"
    wrong = runner.invoke(chosen, ["--profile", "drawn-x"])
    assert wrong.exit_code == 2 and "drawn-N" in wrong.output
    assert "drawn-N" in runner.invoke(chosen, ["--help"]).output
    generate_handbook_files(
        tmp_path, "drawn-8", seed=1, customers=40, feedback_with_terminal=False, days=4, terminals=80
    )
    parameters = json.loads((tmp_path / "scenario.json").read_text())["parameters"]
    assert parameters["radius"] == drawn(8).radius and parameters["customers"] == 40
