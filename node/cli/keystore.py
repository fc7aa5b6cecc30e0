"""People's keys, encrypted at rest: one JSON file per key, sealed with a password.

The seed is sealed with a PyNaCl ``SecretBox`` under a key derived from the password
by argon2id. The KDF limits are stored in each file, so that stronger limits can be
chosen later without breaking old files. The did is stored in the clear, so that
``list_keys`` (and ``audiera key list``) needs no password, like ``geth account list``.

Files are written to a temporary name and then linked into place, so a crash never
leaves half a key behind and two concurrent ``create_key`` calls can never overwrite
one another (a link, unlike a rename, fails when the name exists).
"""

from __future__ import annotations

import json
import os
import re
import secrets
from pathlib import Path
from typing import Any

import nacl.exceptions
import nacl.pwhash
import nacl.secret

from protocol.errors import InvalidKey
from protocol.keys import SigningKey

from node.config import default_home

KEYSTORE_VERSION = 1
KDF = "argon2id"
NAME_PATTERN = re.compile(r"[A-Za-z0-9_.-]{1,64}")

# Interactive limits (about 64 MiB, a fraction of a second) keep the CLI and the tests
# responsive; each file records its own limits, so raising them later is compatible.
OPSLIMIT = nacl.pwhash.argon2id.OPSLIMIT_INTERACTIVE
MEMLIMIT = nacl.pwhash.argon2id.MEMLIMIT_INTERACTIVE


class KeystoreError(Exception):
    """A key that cannot be created, found or opened; the message says which and why."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def default_keystore() -> Path:
    return default_home() / "keys"


def key_path(directory: Path, name: str) -> Path:
    check_name(name)
    return Path(directory) / f"{name}.json"


def check_name(name: str) -> None:
    if not NAME_PATTERN.fullmatch(name) or name in (".", ".."):
        raise KeystoreError(f"{name!r} is not a key name: use 1 to 64 letters, digits, '_', '.' or '-'")


def _derive(password: str, salt: bytes, opslimit: int, memlimit: int) -> bytes:
    return nacl.pwhash.argon2id.kdf(
        nacl.secret.SecretBox.KEY_SIZE, password.encode("utf-8"), salt, opslimit=opslimit, memlimit=memlimit
    )


def create_key(directory: Path, name: str, password: str) -> SigningKey:
    """Generate a key, seal it under ``password`` and store it as ``<name>.json``."""
    path = key_path(directory, name)
    if path.exists():
        raise KeystoreError(f"a key named {name!r} already exists at {path}")
    _ensure_directory(Path(directory))
    key = SigningKey.generate()
    salt = secrets.token_bytes(nacl.pwhash.argon2id.SALTBYTES)
    box = nacl.secret.SecretBox(_derive(password, salt, OPSLIMIT, MEMLIMIT))
    document = {
        "version": KEYSTORE_VERSION,
        "name": name,
        "did": key.did,
        "kdf": KDF,
        "opslimit": OPSLIMIT,
        "memlimit": MEMLIMIT,
        "salt": salt.hex(),
        "ciphertext": bytes(box.encrypt(key.seed)).hex(),  # nonce + sealed seed
    }
    _write_new_file(path, (json.dumps(document, indent=2) + "\n").encode())
    return key


def load_key(directory: Path, name: str, password: str) -> SigningKey:
    """Open the key ``name`` with ``password``."""
    path = key_path(directory, name)
    document = _read_document(path, name)
    if path.stat().st_mode & 0o077:
        raise KeystoreError(f"key file {path} is readable by other users; run: chmod 600 {path}")
    box = nacl.secret.SecretBox(_derive(password, document["salt"], document["opslimit"], document["memlimit"]))
    try:
        seed = box.decrypt(document["ciphertext"])
        key = SigningKey(seed)
    except nacl.exceptions.CryptoError:
        raise KeystoreError(f"wrong password for key {name}") from None
    except InvalidKey:
        raise KeystoreError(f"key file {path} holds no Ed25519 seed") from None
    if key.did != document["did"]:
        raise KeystoreError(f"key file {path} names {document['did']} but holds the key of {key.did}")
    return key


def read_did(directory: Path, name: str) -> str:
    """The did of key ``name``, read without its password."""
    return _read_document(key_path(directory, name), name)["did"]


def list_keys(directory: Path) -> list[tuple[str, str]]:
    """(name, did) of every key in ``directory``, sorted by name; no password needed."""
    directory = Path(directory)
    if not directory.is_dir():
        return []
    found = []
    for path in sorted(directory.glob("*.json")):
        name = path.stem
        if not NAME_PATTERN.fullmatch(name):
            continue
        found.append((name, _read_document(path, name)["did"]))
    return found


def _read_document(path: Path, name: str) -> dict[str, Any]:
    try:
        raw = json.loads(path.read_bytes())
    except FileNotFoundError:
        raise KeystoreError(f"no key named {name!r} in {path.parent}") from None
    except (OSError, ValueError) as exc:
        raise KeystoreError(f"cannot read key file {path}: {exc}") from None
    try:
        if raw["version"] != KEYSTORE_VERSION or raw["kdf"] != KDF:
            raise KeystoreError(f"key file {path} has version {raw['version']} / kdf {raw['kdf']}, which this tool cannot read")
        opslimit, memlimit = raw["opslimit"], raw["memlimit"]
        if not (isinstance(opslimit, int) and isinstance(memlimit, int)):
            raise TypeError
        # Bounded so that a tampered file cannot make us allocate without limit.
        if not (
            nacl.pwhash.argon2id.OPSLIMIT_MIN <= opslimit <= nacl.pwhash.argon2id.OPSLIMIT_SENSITIVE
            and nacl.pwhash.argon2id.MEMLIMIT_MIN <= memlimit <= nacl.pwhash.argon2id.MEMLIMIT_SENSITIVE
        ):
            raise KeystoreError(f"key file {path} asks for argon2id limits outside the supported range")
        return {
            "did": str(raw["did"]),
            "opslimit": opslimit,
            "memlimit": memlimit,
            "salt": bytes.fromhex(raw["salt"]),
            "ciphertext": bytes.fromhex(raw["ciphertext"]),
        }
    except (KeyError, TypeError, ValueError):
        raise KeystoreError(f"key file {path} is not an Audiera keystore file") from None


def _ensure_directory(directory: Path) -> None:
    if not directory.is_dir():
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(directory, 0o700)  # mkdir's mode is filtered by the umask


def _write_new_file(path: Path, data: bytes) -> None:
    temp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        try:
            os.link(temp, path)
        except FileExistsError:
            raise KeystoreError(f"a key named {path.stem!r} already exists at {path}") from None
        except OSError:
            # A filesystem without hard links: fall back to a rename after a check.
            if path.exists():
                raise KeystoreError(f"a key named {path.stem!r} already exists at {path}") from None
            os.replace(temp, path)
    finally:
        temp.unlink(missing_ok=True)
    _fsync_directory(path.parent)


def _fsync_directory(directory: Path) -> None:
    # The CLI is a client and keeps out of the node's storage package; a new key must
    # survive a power loss all the same, so its directory entry is synced here.
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)

