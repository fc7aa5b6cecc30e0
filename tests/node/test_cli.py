"""The ``audiera`` CLI where no node is needed: cid, usage errors, an unreachable node, keys, proofs."""

from __future__ import annotations

import json
import os
import socket

import pytest

from .cli_helpers import run

from node.cli.errors import CliError
from node.cli.proofs import ProofError, verify_inclusion
from node.cli.keystore import load_key
from node.rpc.chain_views import header_view
from protocol.blocks import Block, Header, compute_events_root, sign_header
from protocol.events import ParticipantRegister, sign_event
from protocol.keys import SigningKey
from protocol.unixfs import CHUNK_SIZE, root_cid_of_file

PASSWORD = "correct horse battery staple"


def assert_one_error_line(err: str, starts: str = "audiera: ") -> None:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(starts), err
    assert "Traceback" not in err


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# ------------------------------------------------------------ cid


@pytest.mark.parametrize("size", [0, 1000, CHUNK_SIZE * 2 + 17])
def test_cid_equals_the_unixfs_root(tmp_path, capsys, size):
    path = tmp_path / "audio.bin"
    path.write_bytes(os.urandom(size))
    code, out, err = run(capsys, "cid", str(path))
    assert (code, err) == (0, "")
    assert out == root_cid_of_file(path) + "\n"

    code, out, _ = run(capsys, "--json", "cid", str(path))
    assert code == 0
    assert json.loads(out) == {"cid": root_cid_of_file(path), "size": size, "file": str(path)}


def test_invalid_cid_of_missing_file(tmp_path, capsys):
    code, out, err = run(capsys, "cid", str(tmp_path / "nope.wav"))
    assert code == 1 and out == ""
    assert_one_error_line(err, "audiera: cannot read")


# ------------------------------------------------------------ usage errors


@pytest.mark.parametrize(
    "argv, fragment",
    [
        ([], "required: COMMAND"),
        (["frobnicate"], "invalid choice"),
        (["upload"], "required: FILE"),
        (["block", "show", "yesterday"], "is not a block height"),
        (["event", "show", "abc"], "is not an event id"),
        (["asset", "show", "not-a-cid"], "is not an asset id"),
        (["register", "--name", "x", "--roles", "creator,wizard"], "roles from"),
        (["upload", "f.wav", "--title", "t", "--price", "ai_training=0"], "PURPOSE=CREDITS"),
        (["upload", "f.wav", "--title", "t", "--holder", "bob=10000"], "is neither an account"),
        (["upload", "f.wav", "--title", "t", "--holder", "bob=0"], "DID=BPS"),
        (["upload", "f.wav", "--title", "t", "--parent", "bafy:cover_of"], "CID:RELATION"),
        (["upload", "f.wav", "--title", "t", "--expires", "next tuesday"], "ISO date"),
        (["--node", "ftp://example.org", "status"], "--node must be a URL"),
    ],
)
def test_invalid_usage_exits_2_with_one_line(capsys, argv, fragment):
    code, out, err = run(capsys, *argv)
    assert code == 2 and out == ""
    assert_one_error_line(err)
    assert fragment in err


def test_invalid_upload_without_title(tmp_path, capsys):
    code, _, err = run(capsys, "upload", str(tmp_path / "f.wav"))
    assert code == 2
    assert_one_error_line(err, "audiera: upload needs --title")


def test_invalid_terms_naming_a_purpose_twice(capsys, monkeypatch):
    monkeypatch.setenv("AUDIERA_PASSWORD", PASSWORD)
    assert run(capsys, "key", "new")[0] == 0
    code, _, err = run(capsys, "upload", "f.wav", "--title", "t", "--allow", "ai_training", "--price", "ai_training=5")
    assert code == 2
    assert_one_error_line(err)
    assert "given more than once" in err


def test_help_exits_0(capsys):
    code, out, _ = run(capsys, "upload", "--help")
    assert code == 0 and "--per-access" in out and "--node" in out


# ------------------------------------------------------------ unreachable node


def test_invalid_unreachable_node(capsys):
    url = f"http://127.0.0.1:{free_port()}"
    code, out, err = run(capsys, "--node", url, "status")
    assert code == 1 and out == ""
    assert_one_error_line(err, f"audiera: cannot reach the node at {url}: ")
    assert err.rstrip().endswith("is audiera-node running?")


def test_global_options_after_the_command_and_from_the_environment(capsys, monkeypatch):
    after = f"http://127.0.0.1:{free_port()}"
    assert run(capsys, "block", "show", "--node", after)[2].startswith(f"audiera: cannot reach the node at {after}")
    from_env = f"http://127.0.0.1:{free_port()}"
    monkeypatch.setenv("AUDIERA_NODE", from_env)
    assert run(capsys, "status")[2].startswith(f"audiera: cannot reach the node at {from_env}")


# ------------------------------------------------------------ keys


def test_key_new_and_list(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("AUDIERA_PASSWORD", PASSWORD)
    code, out, err = run(capsys, "key", "new")
    assert code == 0, err
    path = tmp_path / "home" / "keys" / "default.json"
    assert str(path) in out and "did:key:z6Mk" in out

    code, out, _ = run(capsys, "--json", "key", "new", "studio")
    assert code == 0
    created = json.loads(out)
    assert created["name"] == "studio" and created["path"].endswith("studio.json")

    monkeypatch.delenv("AUDIERA_PASSWORD")  # listing needs no password
    code, out, _ = run(capsys, "--json", "key", "list")
    names = [(k["name"], k["did"]) for k in json.loads(out)["keys"]]
    assert code == 0 and names[1] == ("studio", created["did"]) and names[0][0] == "default"
    code, out, _ = run(capsys, "key", "list")
    assert "NAME" in out and created["did"] in out


def test_invalid_key_new_twice(capsys, monkeypatch):
    monkeypatch.setenv("AUDIERA_PASSWORD", PASSWORD)
    assert run(capsys, "key", "new", "k")[0] == 0
    code, _, err = run(capsys, "key", "new", "k")
    assert code == 1
    assert_one_error_line(err)
    assert "already exists" in err


def test_key_new_with_password_file_and_custom_keystore(tmp_path, capsys):
    secret = tmp_path / "pw.txt"
    secret.write_text("from a file\n")
    store = tmp_path / "elsewhere"
    code, out, _ = run(capsys, "--keystore", str(store), "--password-file", str(secret), "--json", "key", "new")
    assert code == 0
    assert load_key(store, "default", "from a file").did == json.loads(out)["did"]


def test_invalid_no_password_without_terminal(capsys):
    code, _, err = run(capsys, "key", "new")
    assert code == 1
    assert_one_error_line(err, "audiera: no password for key 'default'")


def test_invalid_bad_key_name(capsys, monkeypatch):
    monkeypatch.setenv("AUDIERA_PASSWORD", PASSWORD)
    code, _, err = run(capsys, "key", "new", "../escape")
    assert code == 1
    assert_one_error_line(err)
    assert "not a key name" in err


def test_invalid_signing_with_a_missing_key(capsys, monkeypatch):
    monkeypatch.setenv("AUDIERA_PASSWORD", PASSWORD)
    code, _, err = run(capsys, "--key", "ghost", "upload", "f.wav", "--title", "t")
    assert code == 1
    assert_one_error_line(err, "audiera: no key named 'ghost'")
    assert "audiera key new ghost" in err


# ------------------------------------------------------------ inclusion proofs (event show)


class FakeClient:
    """Answers GET /v1/blocks/{hash} from a real signed block."""

    def __init__(self, block: Block) -> None:
        self.view = {**header_view(block.header, final=True), "events": [e.hex() for e in block.event_ids]}

    def get(self, path: str, query=None):
        assert path == f"/v1/blocks/{self.view['hash']}"
        return dict(self.view)


def signed_block(count: int) -> Block:
    authority = SigningKey(b"\x07" * 32)
    events = tuple(
        sign_event(SigningKey(bytes([n + 10]) * 32), ParticipantRegister(f"p{n}", ("creator",)), nonce=1, ts=1)
        for n in range(count)
    )
    unsigned = Header(
        height=3, parent=b"\x01" * 32, ts=5, proposer=authority.did,
        events_root=compute_events_root(events), state_root=b"\x02" * 32, difficulty=2,
    )
    return Block(sign_header(authority, unsigned), events)


def event_state(block: Block, index: int) -> dict:
    proof = block.proof_for(index)
    return {
        "id": block.events[index].id.hex(),
        "status": "final",
        "block": {"height": block.height, "hash": block.hash.hex(), "final": True},
        "index": index,
        "proof": {"index": proof.index, "size": proof.size, "path": [p.hex() for p in proof.path]},
    }


def test_proof_of_an_included_event_verifies(capsys):
    block = signed_block(5)
    for index in range(5):
        checked = verify_inclusion(FakeClient(block), block.events[index].id.hex(), event_state(block, index))
        assert checked["proof"] == "valid" and checked["events_root"] == block.header.events_root.hex()


def test_invalid_proof_is_refused():
    block = signed_block(5)
    state = event_state(block, 2)
    state["proof"]["path"][0] = "00" * 32
    with pytest.raises(ProofError, match="proof: INVALID"):
        verify_inclusion(FakeClient(block), block.events[2].id.hex(), state)
    with pytest.raises(ProofError, match="not under the events root"):
        verify_inclusion(FakeClient(block), block.events[3].id.hex(), event_state(block, 2))


def test_invalid_header_from_the_node_is_refused():
    block = signed_block(2)
    client = FakeClient(block)
    client.view["state_root"] = "03" * 32  # no longer the header that hashes to the block hash
    with pytest.raises(ProofError, match="hashes to"):
        verify_inclusion(client, block.events[0].id.hex(), event_state(block, 0))
    assert issubclass(ProofError, CliError)
