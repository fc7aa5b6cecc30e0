"""Where a keystore password comes from: --password-file, then $AUDIERA_PASSWORD, then the terminal."""

from __future__ import annotations

import getpass
import os
import sys
from pathlib import Path

from .errors import CliError

PASSWORD_ENV = "AUDIERA_PASSWORD"


def read_password(password_file: Path | None, key_name: str, *, new: bool) -> str:
    """The password for ``key_name``; ``new`` asks twice on a terminal and refuses an empty one."""
    if password_file is not None:
        password = _read_file(password_file)
    elif os.environ.get(PASSWORD_ENV):
        password = os.environ[PASSWORD_ENV]
    elif sys.stdin.isatty():
        password = _ask(key_name, new=new)
    else:
        raise CliError(
            f"no password for key {key_name!r}: give --password-file FILE or set {PASSWORD_ENV} "
            "(there is no terminal to ask on)"
        )
    if new and not password:
        raise CliError("refusing to protect a key with an empty password")
    return password


def _read_file(path: Path) -> str:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise CliError(f"cannot read the password file {path}: {exc.strerror or exc}") from None
    # The first line, so that `echo secret > file` works as people expect.
    lines = text.splitlines()
    return lines[0] if lines else ""


def _ask(key_name: str, *, new: bool) -> str:
    try:
        if not new:
            return getpass.getpass(f"Password for key {key_name}: ")
        first = getpass.getpass(f"New password for key {key_name}: ")
        if getpass.getpass("Repeat the password: ") != first:
            raise CliError("the passwords do not match")
        return first
    except (EOFError, KeyboardInterrupt):
        print(file=sys.stderr)
        raise CliError("no password given") from None
