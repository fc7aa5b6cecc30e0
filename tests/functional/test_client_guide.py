"""docs/client.md's example, run as it is written against a real node: the guide cannot drift from the client."""

from __future__ import annotations

import re

import pytest

from .framework import REPO
from .helpers import make_wav

pytestmark = pytest.mark.slow

GUIDE = REPO / "docs" / "client.md"


def test_the_python_client_guide_runs_against_a_node(start_local_node, tmp_path, monkeypatch):
    node = start_local_node()
    song = tmp_path / "song.wav"
    song.write_bytes(make_wav(1.0, seed=9))
    monkeypatch.setenv("AUDIERA_NODE", node.url)
    monkeypatch.setenv("SONG", str(song))
    (code,) = re.findall(r"```python\n(.*?)```", GUIDE.read_text(), re.S)
    exec(compile(code, str(GUIDE), "exec"), {"__name__": "guide"})
    assert node.get("/v1/catalog?q=first+light")["items"][0]["title"] == "First light"
