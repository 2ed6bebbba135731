from __future__ import annotations

from pathlib import Path

import pytest

from config.rules import RulesFileError, load_rules


def test_environment_overrides_thresholds_and_changes_the_rules_version() -> None:
    default = load_rules(environ={})
    tuned = load_rules(environ={"FRAUDWATCH_RULE_HIGH_AMOUNT_THRESHOLD_EUR": "5000"})
    assert tuned.rules.high_amount.threshold_eur == 5000
    assert tuned.rules_version != default.rules_version
    assert tuned.rules_version.startswith(default.version + "+")
    assert load_rules(environ={}).rules_version == default.rules_version


def test_unknown_rule_or_parameter_is_a_clear_error() -> None:
    with pytest.raises(RulesFileError, match="FRAUDWATCH_RULE_NOPE_X"):
        load_rules(environ={"FRAUDWATCH_RULE_NOPE_X": "1"})
    with pytest.raises(RulesFileError, match="thresold"):
        load_rules(environ={"FRAUDWATCH_RULE_HIGH_AMOUNT_THRESOLD_EUR": "1"})
    with pytest.raises(RulesFileError, match="weight"):
        load_rules(environ={"FRAUDWATCH_RULE_VELOCITY_WEIGHT": "3"})


def test_a_broken_rules_file_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "rules.toml"
    path.write_text("version = ")
    with pytest.raises(RulesFileError, match=str(path)):
        load_rules(path, environ={})
