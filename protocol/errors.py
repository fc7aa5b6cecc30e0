"""Typed protocol errors.

Every rule that can fail raises a subclass of :class:`ProtocolError` whose message
says what was wrong in words a user can act on. ``code`` is a short stable token
that the RPC passes on to clients (``{"error": {"code", "message"}}``), with the HTTP
``status`` the class declares: malformed or invalid input is the client's fault (400);
a well-formed event that the state refuses conflicts with it (409).
"""

from __future__ import annotations

from enum import StrEnum


class ProtocolError(Exception):
    """Base of every error raised by the pure protocol layer."""

    code: str = "invalid"
    status: int = 400
    """The HTTP status the RPC answers this error with."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class DecodeError(ProtocolError):
    """Bytes that are not the canonical encoding of a well-formed object."""

    code = "malformed"


class InvalidCID(ProtocolError):
    """A content identifier that is not a CIDv1 (sha2-256) we understand."""

    code = "invalid_cid"


class InvalidKey(ProtocolError):
    """A public key or did:key that does not name an Ed25519 key."""

    code = "invalid_key"


class InvalidSignature(ProtocolError):
    """A signature that does not verify for the claimed signer."""

    code = "bad_signature"


class InvalidEvent(ProtocolError):
    """An event whose envelope or body breaks a validation rule."""

    code = "invalid_event"


class BlockRule(StrEnum):
    """The rule a block breaks, as ``InvalidBlock.rule`` names it."""

    FORMAT = "format"
    """Not a well-formed block: encoding, size, or a body that is not the one its header commits to."""
    PARENT = "parent"
    """It does not extend the block it names as parent, or that parent was refused."""
    AUTHORITY = "authority"
    """Its proposer is not in the authority set of its branch."""
    DIFFICULTY = "difficulty"
    """Its difficulty does not say whether its proposer signed in turn."""
    SIGNING_LIMIT = "signing_limit"
    """Its proposer signed one of the blocks just before it."""
    SIGNATURE = "signature"
    """Its proposer did not sign its header."""
    TIMESTAMP = "timestamp"
    """It comes less than one block period after its parent."""
    FUTURE = "future"
    """It is dated further ahead of the checking node's clock than the allowed drift."""
    EVENT = "event"
    """It carries an event the state refuses."""
    STATE_ROOT = "state_root"
    """Its state root is not the one applying its events gives."""
    FINALITY = "finality"
    """It would revert a final block."""
    JUSTIFICATION = "justification"
    """It carries a justification that is not a supermajority link from a block its chain's headers show justified."""


class InvalidBlock(ProtocolError):
    """A block or header that breaks a validation rule; ``rule`` names which."""

    code = "invalid_block"

    def __init__(self, message: str, rule: BlockRule = BlockRule.FORMAT) -> None:
        super().__init__(message)
        self.rule = rule


class InvalidProof(ProtocolError):
    """A Merkle proof that does not lead to the expected root."""

    code = "invalid_proof"


class Rejected(ProtocolError):
    """A well-formed event that the state machine refuses in the current state."""

    code = "rejected"
    status = 409
