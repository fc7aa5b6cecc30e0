"""The authority set as chain state, and ``authority.vote``, the one way it changes.

The set lives in state (``consensus/authorities``), so every node that applied the same
blocks holds the same set at every height, a reorg undoes a change with the rest of the
state, and the state root covers it. Header validation for block h reads the set from the
state after block h-1: a change voted in block h takes effect at block h+1.

Votes follow Clique: each current authority has one standing vote per candidate (a new
vote replaces it); once more than half of the current authorities vote the same way for
a candidate, the candidate is added (at the end of the order) or removed, and every
standing vote about it is cleared. Votes cast by an authority that is removed are
dropped, so only current authorities ever count.
"""

from __future__ import annotations

from .encoding import decode_stored, encode
from .errors import Rejected
from .events import AuthorityVote, Event
from .records import BlockContext, StateOverlay, StateView, Touched

AUTHORITIES_KEY = b"consensus/authorities"
VOTES_KEY = b"consensus/votes"


def authorities_writes(authorities: tuple[str, ...]) -> dict[bytes, bytes | None]:
    """The genesis state entry for the initial set."""
    return {AUTHORITIES_KEY: encode(list(authorities))}


def get_authorities(state: StateView) -> tuple[str, ...]:
    raw = state.get(AUTHORITIES_KEY)
    if raw is None:
        raise Rejected("the state holds no authority set (it was not created from a genesis)")
    return tuple(decode_stored(raw))


def get_votes(state: StateView) -> dict[str, dict[str, bool]]:
    """Standing votes: candidate -> {voter: add?}."""
    raw = state.get(VOTES_KEY)
    return {} if raw is None else decode_stored(raw)


def votes_needed(authority_count: int) -> int:
    """More than half of the current authorities."""
    return authority_count // 2 + 1


def apply_authority_vote(state: StateOverlay, event: Event, body: AuthorityVote, context: BlockContext) -> Touched:
    authorities = list(get_authorities(state))
    if event.author not in authorities:
        raise Rejected(f"only an authority may vote on the authority set; {event.author} is not one")
    if body.add and body.candidate in authorities:
        raise Rejected(f"{body.candidate} is already an authority")
    if not body.add and body.candidate not in authorities:
        raise Rejected(f"{body.candidate} is not an authority, so it cannot be removed")
    if not body.add and len(authorities) == 1:
        raise Rejected("the last authority cannot be removed: nobody would be left to sign blocks")
    votes = get_votes(state)
    on_candidate = votes.setdefault(body.candidate, {})
    on_candidate[event.author] = body.add
    in_favour = sum(1 for add in on_candidate.values() if add == body.add)
    if in_favour >= votes_needed(len(authorities)):
        del votes[body.candidate]
        if body.add:
            authorities.append(body.candidate)
        else:
            authorities.remove(body.candidate)
            _drop_votes_of(votes, body.candidate)
        state.put(AUTHORITIES_KEY, encode(authorities))
    state.put(VOTES_KEY, encode({candidate: dict(sorted(v.items())) for candidate, v in sorted(votes.items()) if v}))
    return Touched(accounts=(body.candidate,))


def _drop_votes_of(votes: dict[str, dict[str, bool]], voter: str) -> None:
    for on_candidate in votes.values():
        on_candidate.pop(voter, None)
