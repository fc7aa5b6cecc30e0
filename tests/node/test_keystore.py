"""The encrypted keystore: round trip, file mode, wrong password, names, listing."""

from __future__ import annotations

import json
import stat

import nacl.pwhash
import pytest

from node.cli import keystore
from node.cli.keystore import KeystoreError, create_key, list_keys, load_key, read_did


def test_create_and_load_round_trip(tmp_path):
    created = create_key(tmp_path, "alice", "correct horse")
    loaded = load_key(tmp_path, "alice", "correct horse")
    assert loaded == created
    assert loaded.did.startswith("did:key:z6Mk")
    assert read_did(tmp_path, "alice") == created.did


def test_file_holds_documented_fields_and_no_seed(tmp_path):
    key = create_key(tmp_path, "alice", "pw")
    text = (tmp_path / "alice.json").read_text()
    document = json.loads(text)
    assert set(document) == {"version", "name", "did", "kdf", "opslimit", "memlimit", "salt", "ciphertext"}
    assert document["version"] == 1 and document["name"] == "alice" and document["did"] == key.did
    assert document["kdf"] == "argon2id"
    assert document["opslimit"] == nacl.pwhash.argon2id.OPSLIMIT_INTERACTIVE
    assert document["memlimit"] == nacl.pwhash.argon2id.MEMLIMIT_INTERACTIVE
    assert key.seed.hex() not in text


def test_files_are_private(tmp_path):
    directory = tmp_path / "keys"
    create_key(directory, "alice", "pw")
    assert stat.S_IMODE((directory / "alice.json").stat().st_mode) == 0o600
    assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    assert [p.name for p in directory.iterdir()] == ["alice.json"]  # no temporary file left behind


def test_invalid_wrong_password(tmp_path):
    create_key(tmp_path, "alice", "right")
    with pytest.raises(KeystoreError, match="wrong password for key alice"):
        load_key(tmp_path, "alice", "wrong")


def test_invalid_overwrite_is_refused(tmp_path):
    first = create_key(tmp_path, "alice", "pw")
    before = (tmp_path / "alice.json").read_bytes()
    with pytest.raises(KeystoreError, match="already exists"):
        create_key(tmp_path, "alice", "other")
    assert (tmp_path / "alice.json").read_bytes() == before
    assert load_key(tmp_path, "alice", "pw") == first


@pytest.mark.parametrize("name", ["", "a/b", "../up", "a b", "x" * 65, "..", ".", "naïve"])
def test_invalid_names(tmp_path, name):
    with pytest.raises(KeystoreError, match="is not a key name"):
        create_key(tmp_path, name, "pw")
    with pytest.raises(KeystoreError, match="is not a key name"):
        load_key(tmp_path, name, "pw")
    assert not any(tmp_path.iterdir())


def test_names_may_use_the_whole_alphabet(tmp_path):
    name = "Aa0_.-" + "z" * 58
    create_key(tmp_path, name, "pw")
    assert [n for n, _ in list_keys(tmp_path)] == [name]


def test_list_keys_without_password(tmp_path):
    assert list_keys(tmp_path / "missing") == []
    bob = create_key(tmp_path, "bob", "pw1")
    alice = create_key(tmp_path, "alice", "pw2")
    (tmp_path / "notes.txt").write_text("not a key")
    assert list_keys(tmp_path) == [("alice", alice.did), ("bob", bob.did)]


def test_invalid_missing_key(tmp_path):
    with pytest.raises(KeystoreError, match="no key named 'ghost'"):
        load_key(tmp_path, "ghost", "pw")


def test_invalid_readable_by_others(tmp_path):
    create_key(tmp_path, "alice", "pw")
    (tmp_path / "alice.json").chmod(0o644)
    with pytest.raises(KeystoreError, match="chmod 600"):
        load_key(tmp_path, "alice", "pw")


def test_invalid_tampered_file(tmp_path):
    create_key(tmp_path, "alice", "pw")
    path = tmp_path / "alice.json"
    document = json.loads(path.read_text())
    document["did"] = create_key(tmp_path, "bob", "pw").did
    path.write_text(json.dumps(document))
    with pytest.raises(KeystoreError, match="holds the key of"):
        load_key(tmp_path, "alice", "pw")
    path.write_text("{not json")
    with pytest.raises(KeystoreError, match="cannot read key file"):
        load_key(tmp_path, "alice", "pw")


def test_stored_limits_are_used_when_loading(tmp_path, monkeypatch):
    # Files record their own KDF limits, so a file made with other limits still opens.
    monkeypatch.setattr(keystore, "OPSLIMIT", nacl.pwhash.argon2id.OPSLIMIT_MIN)
    monkeypatch.setattr(keystore, "MEMLIMIT", nacl.pwhash.argon2id.MEMLIMIT_MIN)
    key = create_key(tmp_path, "light", "pw")
    monkeypatch.undo()
    assert json.loads((tmp_path / "light.json").read_text())["memlimit"] == nacl.pwhash.argon2id.MEMLIMIT_MIN
    assert load_key(tmp_path, "light", "pw") == key
