"""``audiera model terms`` and ``audiera usage``: usage errors where no node is needed."""

from __future__ import annotations

import argparse

import pytest

from node.cli.usage import percent_bps

from .cli_helpers import run

ID = "ab" * 32


@pytest.mark.parametrize(
    "argv, fragment",
    [
        (["usage", "record", ID, "--purpose", "ai_inference"], "--count"),
        (["usage", "record", ID, "--count", "5"], "--purpose"),
        (["usage", "record", "m1", "--count", "5", "--purpose", "ai_inference"], "is not an event id"),
        (["usage", "record", ID, "--count", "5", "--purpose", "karaoke"], "invalid choice"),
        (["usage", "show", ID, "--from", "last week"], "is not a date"),
        (["model", "terms", ID, "--per-use", "ai_inference=0"], "is not PURPOSE=CREDITS"),
        (["model", "terms", ID, "--training-share", "101"], "is not a percentage"),
        (["model", "terms", ID, "--training-share", "12.345"], "is not a percentage"),
        (["model", "terms", "xyz"], "is not an event id"),
    ],
)
def test_invalid_usage_commands_exit_2_with_one_line(capsys, argv, fragment):
    code, out, err = run(capsys, *argv)
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and err.startswith("audiera: ") and fragment in err, err


def test_model_terms_naming_a_purpose_twice_is_a_usage_error(capsys):
    code, _, err = run(capsys, "model", "terms", ID, "--allow", "ai_inference", "--per-use", "ai_inference=3", "--node", "http://127.0.0.1:9")
    assert code == 2 and "given more than once" in err


@pytest.mark.parametrize("text, bps", [("40", 4_000), ("40%", 4_000), ("12.5", 1_250), ("0", 0), ("100", 10_000), ("0.01", 1)])
def test_percent_as_basis_points(text: str, bps: int) -> None:
    assert percent_bps(text) == bps


@pytest.mark.parametrize("text", ["-1", "abc", "100.01", "0.001", "nan"])
def test_invalid_percent(text: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError):
        percent_bps(text)
