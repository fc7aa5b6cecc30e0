"""Running the audiera CLI in-process, as its tests do."""

from __future__ import annotations

from node.cli.main import main


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err
