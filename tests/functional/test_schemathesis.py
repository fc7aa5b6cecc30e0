"""Property-based tests of the whole RPC from its OpenAPI document (schemathesis) against a live node.

Every operation gets examples, the coverage phase's boundary and negative cases and
random fuzzing, a bounded number of each, and every check schemathesis has but one:
``positive_data_acceptance`` fails wherever the document is looser than the node
(a ``did`` is any string to the document, a DID to the node), which says nothing about
the node's robustness. What must hold: no 5xx, documented status codes and content
types, negative data refused, 405 answers that carry ``Allow``, and every answer
conforming to the document: its status, its Content-Type and its body's schema.

Every route is in the document, the IPFS gateway, ``/metrics`` and the explorer
included. The feed is too, but schemathesis speaks no websocket: it gets the feed's
refusals (400 for a request that is no upgrade or has bad filters), never the 101 and
the messages after it, which tests/functional/test_feeds.py covers.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from node.rpc.openapi import openapi_document

from .framework import REPO, NodeProcess

pytestmark = pytest.mark.slow

MAX_EXAMPLES = 50
"""Per operation and phase: ~1,700 requests, about 15 s on an idle machine."""

CONFORMANCE = {
    "ST103": "status_code_conformance: a status the document does not list",
    "ST104": "content_type_conformance: no Content-Type",
    "ST105": "content_type_conformance: a Content-Type the document does not list",
    "ST106": "content_type_conformance: a malformed Content-Type",
    "ST108": "response_schema_conformance: a body that breaks the documented schema",
    "ST110": "response_schema_conformance: a body that does not parse as its Content-Type",
}
"""The failures by which an answer departs from the document (generated from api_models.py)."""


def test_the_rpc_survives_its_own_schema(tmp_path: Path, nodes: list[NodeProcess]) -> None:
    node = NodeProcess("node0", tmp_path, data_dir=tmp_path / "node0")
    nodes.append(node)
    node.start()
    report = tmp_path / "schemathesis.json"
    command = [
        str(Path(sys.executable).with_name("st")), "run", f"{node.url}/v1/openapi.json",
        "--checks", "all", "--exclude-checks", "positive_data_acceptance",
        "--phases", "examples,coverage,fuzzing", "--max-examples", str(MAX_EXAMPLES),
        "--generation-deterministic", "--workers", "1", "--request-timeout", "20",
        "--report", "json", "--report-json-path", str(report),
    ]  # fmt: skip
    env = {**os.environ, "SCHEMATHESIS_HOOKS": "tests.functional.schemathesis_hooks", "PYTHONPATH": str(REPO)}
    result = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert report.exists(), result.stdout[-3000:] + result.stderr[-3000:]
    summary = json.loads(report.read_text())
    print(
        f"schemathesis: {summary['operations']['tested']} operations, "
        f"{summary['test_cases']['generated']} test cases, {summary['test_cases']['unique_failures']} unique failures, "
        f"{summary['running_time']:.1f} s"
    )
    paths = openapi_document()["paths"]
    documented = sum(len(operations) for path, operations in paths.items() if path != "/v1/openapi.json")  # schemathesis leaves out the document it reads
    assert summary["operations"]["tested"] == summary["operations"]["total"] == documented
    assert summary["errors"] == [], summary["errors"]
    found = {(failure["code"], operation) for failure in summary["failures"] for operation in failure["operations"]}
    departures = sorted(f"{operation}: {CONFORMANCE[code]}" for code, operation in found if code in CONFORMANCE)
    assert departures == [], "\n".join(departures) + result.stdout[-6000:]
    assert found == set(), result.stdout[-6000:]
    assert node.running, node.log_tail()
    assert "internal error" not in node.log_path.read_text(), node.log_tail()
