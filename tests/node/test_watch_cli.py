"""``audiera watch``'s lines: one per head, final block, reorg and event; JSON lines with --json."""

from __future__ import annotations

import json

from node.cli.watch import _lines

EVENT = {"index": 0, "id": "ab" * 32, "kind": "participant.register", "author": "did:key:z6MkA", "body": {"name": "Ada", "roles": ["creator"]}}


def test_text_lines_name_what_happened():
    assert _lines({"type": "head", "height": 7, "hash": "cd" * 32, "proposer": "did:key:z6MkP", "event_count": 2}, False) == [
        f"head         7 {'cd' * 8}… by did:key:z6MkP (2 events)"
    ]
    assert _lines({"type": "final", "height": 5, "hash": "ef" * 32}, False) == [f"final        5 {'ef' * 8}…"]
    assert _lines({"type": "reorg", "reverted": [{"height": 7, "hash": "00"}, {"height": 6, "hash": "11"}]}, False) == ["reorg  reverted 7, 6"]
    (line,) = _lines({"type": "events", "height": 7, "hash": "cd" * 32, "events": [EVENT]}, False)
    assert line.startswith("event        7 participant.register") and line.endswith("Ada (creator)")


def test_json_lines_give_one_object_per_event():
    lines = _lines({"type": "events", "height": 7, "hash": "cd" * 32, "events": [EVENT, {**EVENT, "index": 1}]}, True)
    assert [json.loads(line)["index"] for line in lines] == [0, 1]
    assert json.loads(lines[0])["type"] == "event" and json.loads(lines[0])["block"] == "cd" * 32
