"""Key names wherever an account is asked for, ``key show``, and errors a script can read."""

from __future__ import annotations

import argparse
import json

import pytest

from node.cli.key_names import KeyName, account, resolve_key_names
from node.cli.errors import UsageError
from node.cli.testnet import funding

from .cli_helpers import run

PASSWORD = "a long test passphrase"
CID = "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku"


def test_key_show_gives_the_did_without_a_password(capsys, monkeypatch):
    monkeypatch.setenv("AUDIERA_PASSWORD", PASSWORD)
    code, out, err = run(capsys, "--json", "key", "new", "ada")
    assert code == 0, err
    created = json.loads(out)
    monkeypatch.delenv("AUDIERA_PASSWORD")
    code, out, _ = run(capsys, "--json", "key", "show", "ada")
    assert code == 0 and json.loads(out) == created


def test_invalid_key_show_of_a_missing_key_says_how_to_make_it(capsys):
    code, _, err = run(capsys, "key", "show", "nobody")
    assert code == 1 and "audiera key new nobody" in err


def test_key_names_resolve_in_lists_maps_and_tuples(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("AUDIERA_PASSWORD", PASSWORD)
    run(capsys, "key", "new", "ben")
    did = json.loads(run(capsys, "--json", "key", "show", "ben")[1])["did"]
    args = argparse.Namespace(
        holder=[{"account": account("ben"), "share_bps": 10000}], grantee=account("ben"), fund=[funding("ben=5")], other=did
    )
    resolve_key_names(args, tmp_path / "home" / "keys")
    assert args.holder == [{"account": did, "share_bps": 10000}]
    assert args.grantee == did and args.fund == [(did, 5)] and args.other == did
    assert not isinstance(args.grantee, KeyName)


def test_invalid_key_name_that_is_no_key_is_a_usage_error(tmp_path):
    args = argparse.Namespace(grantee=account("leo"))
    with pytest.raises(UsageError, match="neither an account"):
        resolve_key_names(args, tmp_path)


def test_invalid_account_text_is_refused_at_parse_time():
    with pytest.raises(argparse.ArgumentTypeError):
        account("not a key/name")
    with pytest.raises(argparse.ArgumentTypeError):
        funding("ada=0")


def test_invalid_grant_to_an_unknown_key_name_names_the_keystore(capsys):
    code, _, err = run(capsys, "license", "grant", CID, "--to", "leo", "--purpose", "ai_training")
    assert code == 2 and "'leo' is neither an account" in err and "audiera key list" in err


def test_errors_with_json_are_one_json_object_on_stderr(capsys):
    code, out, err = run(capsys, "--json", "--node", "http://127.0.0.1:1", "status")
    assert code == 1 and out == ""
    error = json.loads(err)["error"]
    assert error["code"] == "unreachable" and "cannot reach" in error["message"] and error["status"] is None
    code, _, err = run(capsys, "--json", "no-such-command")
    assert code == 2 and json.loads(err)["error"]["code"] == "usage"
