from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def isolated_home(tmp_path, monkeypatch):
    """Every test gets its own AUDIERA_HOME and no password or node from the environment."""
    monkeypatch.setenv("AUDIERA_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("AUDIERA_PASSWORD", raising=False)
    monkeypatch.delenv("AUDIERA_NODE", raising=False)
