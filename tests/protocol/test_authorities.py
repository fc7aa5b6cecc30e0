"""The authority set in state and ``authority.vote``: Clique's voting rules."""

from __future__ import annotations

import pytest

from protocol.authorities import authorities_writes, get_authorities, get_votes, votes_needed
from protocol.errors import Rejected
from protocol.events import AuthorityVote, Event
from protocol.genesis import Genesis
from protocol.keys import SigningKey
from protocol.state import StateOverlay, Touched, apply_event, genesis_writes, get_account

from .factories import TS, key
from .test_state import CTX, DictState, event, fresh, register, rejected

AUTHS = tuple(key(n) for n in (11, 12, 13, 14))
NEWCOMER = key(20)
OUTSIDER = key(21)


def state_with(*authorities: SigningKey) -> StateOverlay:
    """A state whose authority set is ``authorities``, with them and OUTSIDER registered."""
    base = DictState(authorities_writes(tuple(a.did for a in authorities)))  # type: ignore[arg-type]
    return fresh(*(register(a) for a in (*authorities, OUTSIDER)), base=base)


def vote(state: StateOverlay, voter: SigningKey, candidate: SigningKey, add: bool = True) -> Event:
    """``voter``'s next vote (its nonce read from ``state``)."""
    return event(voter, AuthorityVote(candidate=candidate.did, add=add), get_account(state, voter.did).nonce + 1)


def cast(state: StateOverlay, voter: SigningKey, candidate: SigningKey, add: bool = True) -> Touched:
    return apply_event(state, vote(state, voter, candidate, add), CTX)


def dids(*signers: SigningKey) -> tuple[str, ...]:
    return tuple(s.did for s in signers)


def test_genesis_writes_the_authority_set_in_order() -> None:
    genesis = Genesis("net", TS, dids(*AUTHS), 1000, ())
    state = DictState(genesis_writes(genesis))  # type: ignore[arg-type]
    assert get_authorities(state) == dids(*AUTHS)
    assert get_votes(state) == {}


def test_a_state_without_a_genesis_has_no_authority_set() -> None:
    with pytest.raises(Rejected, match="no authority set"):
        get_authorities(DictState())


def test_vote_by_a_registered_non_authority_is_rejected() -> None:
    state = state_with(*AUTHS)
    rejected(state, vote(state, OUTSIDER, NEWCOMER), "only an authority may vote", OUTSIDER.did)


def test_vote_by_an_unregistered_authority_is_rejected() -> None:
    state = StateOverlay(DictState(authorities_writes(dids(*AUTHS))))  # type: ignore[arg-type]
    rejected(state, vote(state, AUTHS[0], NEWCOMER), "must register as a participant")


def test_adding_an_existing_authority_is_rejected() -> None:
    state = state_with(*AUTHS)
    rejected(state, vote(state, AUTHS[0], AUTHS[1], add=True), "already an authority")


def test_removing_a_non_authority_is_rejected() -> None:
    state = state_with(*AUTHS)
    rejected(state, vote(state, AUTHS[0], NEWCOMER, add=False), "is not an authority, so it cannot be removed")


def test_removing_the_last_authority_is_rejected() -> None:
    state = state_with(AUTHS[0])
    rejected(state, vote(state, AUTHS[0], AUTHS[0], add=False), "last authority cannot be removed")


def test_a_candidate_is_added_on_the_third_of_four_votes() -> None:
    state = state_with(*AUTHS)
    cast(state, AUTHS[0], NEWCOMER)
    cast(state, AUTHS[1], NEWCOMER)
    assert get_authorities(state) == dids(*AUTHS)
    assert get_votes(state) == {NEWCOMER.did: {AUTHS[0].did: True, AUTHS[1].did: True}}
    touched = cast(state, AUTHS[2], NEWCOMER)
    assert get_authorities(state) == dids(*AUTHS, NEWCOMER)  # appended at the end of the order
    assert get_votes(state) == {}  # every vote on the candidate is cleared
    assert NEWCOMER.did in touched.accounts and AUTHS[2].did in touched.accounts


def test_a_vote_on_another_candidate_is_kept_when_one_is_added() -> None:
    other = key(22)
    state = state_with(*AUTHS)
    cast(state, AUTHS[3], other)
    for voter in AUTHS[:3]:
        cast(state, voter, NEWCOMER)
    assert get_votes(state) == {other.did: {AUTHS[3].did: True}}


def test_voting_again_replaces_the_standing_vote() -> None:
    state = state_with(*AUTHS)
    cast(state, AUTHS[0], NEWCOMER)
    cast(state, AUTHS[0], NEWCOMER)
    cast(state, AUTHS[1], NEWCOMER)
    assert get_authorities(state) == dids(*AUTHS), "one voter's two votes must count once"
    assert get_votes(state) == {NEWCOMER.did: {AUTHS[0].did: True, AUTHS[1].did: True}}


def test_removal_needs_a_majority_and_clears_votes_on_the_removed() -> None:
    state = state_with(*AUTHS)
    cast(state, AUTHS[0], AUTHS[3], add=False)
    cast(state, AUTHS[1], AUTHS[3], add=False)
    assert get_authorities(state) == dids(*AUTHS)
    cast(state, AUTHS[2], AUTHS[3], add=False)
    assert get_authorities(state) == dids(*AUTHS[:3])
    assert AUTHS[3].did not in get_votes(state)


def test_removal_drops_the_removed_authoritys_standing_votes() -> None:
    state = state_with(*AUTHS)
    cast(state, AUTHS[3], NEWCOMER)
    cast(state, AUTHS[0], NEWCOMER)
    for voter in AUTHS[:3]:
        cast(state, voter, AUTHS[3], add=False)
    assert get_votes(state) == {NEWCOMER.did: {AUTHS[0].did: True}}
    # Three authorities left: two votes are a majority, and the removed one's vote no longer counts.
    cast(state, AUTHS[1], NEWCOMER)
    assert get_authorities(state) == dids(*AUTHS[:3], NEWCOMER)


def test_a_removed_authority_can_no_longer_vote() -> None:
    state = state_with(*AUTHS)
    for voter in AUTHS[:3]:
        cast(state, voter, AUTHS[3], add=False)
    rejected(state, vote(state, AUTHS[3], NEWCOMER), "only an authority may vote")


@pytest.mark.parametrize("count, needed", [(1, 1), (2, 2), (3, 2), (4, 3), (5, 3), (6, 4), (7, 4)])
def test_votes_needed_is_more_than_half(count: int, needed: int) -> None:
    assert votes_needed(count) == needed


def test_a_single_authority_adds_a_candidate_alone() -> None:
    state = state_with(AUTHS[0])
    cast(state, AUTHS[0], NEWCOMER)
    assert get_authorities(state) == dids(AUTHS[0], NEWCOMER)
