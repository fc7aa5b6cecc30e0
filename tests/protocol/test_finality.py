"""The vote-finality rules: quorum, header justifications, node-local tracking, evidence."""

from __future__ import annotations

from dataclasses import replace

import pytest

from protocol.blocks import Header
from protocol.errors import BlockRule, InvalidBlock
from protocol.finality import FinalityTracker, HeaderFinality, apply_justifications, quorum, slashable_pair
from protocol.votes import Checkpoint, Justification, justification_from_votes, sign_vote, unsigned_vote

from .factories import TS, digest, key

KEYS = [key(10 + index) for index in range(4)]
AUTHORITIES = tuple(k.did for k in KEYS)
GENESIS = Checkpoint(0, digest("genesis"))


class Chain:
    """A tree of blocks named by branch and height (``main`` forks into ``side`` above ``fork_at``)."""

    def __init__(self, length: int = 12, fork_at: int = 3) -> None:
        self.parents: dict[bytes, Checkpoint] = {}
        self.main = [GENESIS] + [Checkpoint(h, digest(f"main{h}")) for h in range(1, length)]
        self.side = self.main[: fork_at + 1] + [Checkpoint(h, digest(f"side{h}")) for h in range(fork_at + 1, length)]
        for branch in (self.main, self.side):
            for parent, child in zip(branch, branch[1:]):
                self.parents[child.hash] = parent

    def parent_of(self, digest_: bytes) -> Checkpoint | None:
        return self.parents.get(digest_)


def votes_for(source: Checkpoint, target: Checkpoint, keys=KEYS):
    return [sign_vote(k, unsigned_vote(k.did, source, target)) for k in keys]


def justify(source: Checkpoint, target: Checkpoint, keys=KEYS) -> Justification:
    return justification_from_votes(votes_for(source, target, keys))


def header_at(height: int, *justifications: Justification) -> Header:
    return Header(height, digest(f"main{height - 1}"), TS, AUTHORITIES[0], digest("e"), digest("s"), 2,
                  justifications=justifications)


def apply(chain: Chain, prev: HeaderFinality, header: Header, authorities=AUTHORITIES) -> HeaderFinality:
    return apply_justifications(prev, header, lambda h: chain.main[h].hash, lambda h: authorities)


def test_quorum_is_more_than_two_thirds() -> None:
    assert [quorum(n) for n in (1, 2, 3, 4, 5, 6, 7, 10)] == [1, 2, 3, 3, 4, 5, 5, 7]
    for n in range(1, 50):
        assert 3 * quorum(n) > 2 * n and 3 * (quorum(n) - 1) <= 2 * n


def test_a_header_without_justifications_keeps_its_parents_finality() -> None:
    chain = Chain()
    start = HeaderFinality.genesis(GENESIS.hash)
    assert apply(chain, start, header_at(4)) == start


def test_a_justified_child_makes_its_source_final() -> None:
    chain = Chain()
    g, b1, b2, b3 = chain.main[:4]
    after = apply(chain, HeaderFinality.genesis(GENESIS.hash), header_at(3, justify(g, b1), justify(b1, b2)))
    assert after == HeaderFinality(justified=b2, final=b1)
    assert apply(chain, after, header_at(4, justify(b2, b3))) == HeaderFinality(justified=b3, final=b2)


def test_a_justification_that_skips_a_height_justifies_without_finalizing() -> None:
    chain = Chain()
    g, b1, _, b3 = chain.main[:4]
    after = apply(chain, HeaderFinality(justified=b1, final=g), header_at(5, justify(b1, b3)))
    assert after == HeaderFinality(justified=b3, final=g)


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda c: justify(c.main[2], c.main[3]), "not on the chain's latest justified block"),
        (lambda c: justify(c.main[0], c.main[0 + 5]), "not an ancestor of the block"),
        (lambda c: justify(c.main[0], c.side[4]), "not on the block's chain"),
        (lambda c: justify(c.main[0], c.main[1], KEYS[:2]), "has 2 votes; a quorum of 4 authorities is 3"),
        (lambda c: justify(c.main[0], c.main[1], KEYS[:2] + [key(99)]), "which is not an authority"),
    ],
)
def test_bad_justifications_are_refused_naming_the_rule(make, message) -> None:
    chain = Chain()
    with pytest.raises(InvalidBlock, match=message) as exc:
        apply(chain, HeaderFinality.genesis(GENESIS.hash), header_at(5, make(chain)))
    assert exc.value.rule is BlockRule.JUSTIFICATION


def test_a_forged_vote_in_a_justification_is_refused() -> None:
    chain = Chain()
    good = justify(chain.main[0], chain.main[1])
    forged = replace(good, votes=(good.votes[0], (good.votes[1][0], bytes(64)), *good.votes[2:]))
    with pytest.raises(InvalidBlock, match="does not verify") as exc:
        apply(chain, HeaderFinality.genesis(GENESIS.hash), header_at(3, forged))
    assert exc.value.rule is BlockRule.JUSTIFICATION


def test_justifications_must_come_in_increasing_order() -> None:
    chain = Chain()
    g, b1, b2 = chain.main[:3]
    with pytest.raises(InvalidBlock, match="latest justified block"):
        apply(chain, HeaderFinality.genesis(GENESIS.hash), header_at(4, justify(b1, b2), justify(g, b1)))


def test_a_quorum_counts_in_the_authority_set_at_the_target() -> None:
    chain = Chain()
    seven = tuple(k.did for k in KEYS) + tuple(key(30 + i).did for i in range(3))
    with pytest.raises(InvalidBlock, match="a quorum of 7 authorities is 5"):
        apply(chain, HeaderFinality.genesis(GENESIS.hash), header_at(3, justify(chain.main[0], chain.main[1])), seven)


def test_header_finality_round_trips_for_storage() -> None:
    chain = Chain()
    finality = HeaderFinality(justified=chain.main[3], final=chain.main[2])
    assert HeaderFinality.from_wire(finality.to_wire()) == finality


# --- the node-local tracker ----------------------------------------------------------


def tracker(chain: Chain, authorities=AUTHORITIES) -> FinalityTracker:
    return FinalityTracker(GENESIS, chain.parent_of, lambda target: authorities)


def test_gossiped_votes_justify_and_finalize() -> None:
    chain = Chain()
    t = tracker(chain)
    g, b1, b2 = chain.main[:3]
    updates = [t.add_vote(v) for v in votes_for(g, b1)]
    assert [u.justified for u in updates] == [(), (), (b1,), ()]
    assert updates[2].final is None  # genesis was already final
    assert t.is_justified(b1)
    updates = [t.add_vote(v) for v in votes_for(b1, b2)]
    assert updates[2].final == b1 and t.final == b1
    assert t.highest_justified_on(chain.main[7]) == b2
    assert t.highest_justified_on(chain.side[7]) == b2  # below the fork, so on both branches
    assert t.highest_justified_on(b1) == b1


def test_a_duplicate_vote_changes_nothing() -> None:
    chain = Chain()
    t = tracker(chain)
    one = votes_for(GENESIS, chain.main[1])[0]
    assert t.add_vote(one).new
    assert t.add_vote(one) == replace(t.add_vote(one), new=False)
    assert t.vote_count() == 1


def test_votes_by_non_authorities_do_not_count() -> None:
    chain = Chain()
    t = tracker(chain)
    for v in votes_for(GENESIS, chain.main[1], KEYS[:2] + [key(90), key(91)]):
        t.add_vote(v)
    assert not t.is_justified(chain.main[1])


def test_a_link_from_an_unjustified_source_waits_for_it() -> None:
    chain = Chain()
    t = tracker(chain)
    _, b1, b2 = chain.main[:3]
    for v in votes_for(b1, b2):
        t.add_vote(v)
    assert not t.is_justified(b2)
    for v in votes_for(GENESIS, b1)[:2]:
        t.add_vote(v)
    last = t.add_vote(votes_for(GENESIS, b1)[2])
    assert last.justified == (b1, b2) and last.final == b1


def test_votes_for_an_unknown_block_settle_once_it_arrives() -> None:
    chain = Chain()
    unknown = Checkpoint(12, digest("main12"))
    t = tracker(chain)
    t.add_header_finality(HeaderFinality(justified=chain.main[11], final=chain.main[10]))
    for v in votes_for(chain.main[11], unknown):
        t.add_vote(v)
    assert not t.is_justified(unknown)
    chain.parents[unknown.hash] = chain.main[11]
    settled = t.settle()
    assert settled.justified == (unknown,) and settled.final == chain.main[11]


def test_a_link_whose_source_is_not_an_ancestor_never_justifies() -> None:
    chain = Chain()
    t = tracker(chain)
    for v in votes_for(GENESIS, chain.main[4]):
        t.add_vote(v)
    for v in votes_for(chain.main[4], chain.side[5]):
        t.add_vote(v)
    assert not t.is_justified(chain.side[5])


def test_header_finality_feeds_the_tracker_and_final_never_goes_back() -> None:
    chain = Chain()
    t = tracker(chain)
    update = t.add_header_finality(HeaderFinality(justified=chain.main[5], final=chain.main[4]))
    assert update.final == chain.main[4] and t.final == chain.main[4]
    t.add_header_finality(HeaderFinality(justified=chain.main[3], final=chain.main[2]))
    assert t.final == chain.main[4]


def test_the_tracker_turns_slashable_votes_into_evidence() -> None:
    chain = Chain()
    t = tracker(chain)
    honest = votes_for(GENESIS, chain.main[4])[0]
    double = sign_vote(KEYS[0], unsigned_vote(KEYS[0].did, GENESIS, chain.side[4]))
    assert t.add_vote(honest).evidence == ()
    found = t.add_vote(double).evidence
    assert len(found) == 1 and found[0].voter == KEYS[0].did
    assert slashable_pair(honest, double) == found[0]
    assert slashable_pair(honest, votes_for(chain.main[4], chain.main[5])[0]) is None


def test_prune_forgets_what_is_below_the_final_block() -> None:
    chain = Chain()
    t = tracker(chain)
    for v in votes_for(GENESIS, chain.main[1]) + votes_for(chain.main[1], chain.main[2]):
        t.add_vote(v)
    t.prune(below_height=2)
    assert t.vote_count() == 4
    assert t.is_justified(chain.main[1]) and t.is_justified(chain.main[2])
    assert not t.is_justified(GENESIS)


def _shown_justified(*checkpoints: Checkpoint):
    return lambda checkpoint: checkpoint in checkpoints


def test_a_justification_may_build_on_a_block_an_earlier_header_showed_justified() -> None:
    # The headers carry b1 then b2 (both from g); voters who saw the votes for b1 -> b3 vote
    # from b3. Unless b1 -> b3 can be carried, those who missed them never learn b3 and
    # the votes stay split between sources b2 and b3 for good (simulation seed 2).
    chain = Chain()
    g, b1, b2, b3, b4 = chain.main[:5]
    prev = HeaderFinality(justified=b2, final=b1)
    after = apply_justifications(
        prev, header_at(5, justify(b1, b3), justify(b3, b4)), lambda h: chain.main[h].hash, lambda h: AUTHORITIES,
        carried_justified=_shown_justified(g, b1, b2),
    )
    assert after == HeaderFinality(justified=b4, final=b3)


def test_a_justification_from_a_block_no_header_showed_justified_is_refused() -> None:
    chain = Chain()
    b1, b2, b3, b4 = chain.main[1:5]
    with pytest.raises(InvalidBlock, match="nor on one its headers showed justified before") as exc:
        apply_justifications(
            HeaderFinality(justified=b2, final=b1), header_at(6, justify(b3, b4)), lambda h: chain.main[h].hash,
            lambda h: AUTHORITIES, carried_justified=_shown_justified(b1, b2),
        )
    assert exc.value.rule is BlockRule.JUSTIFICATION


def test_a_justification_must_still_point_above_the_latest_justified_block() -> None:
    chain = Chain()
    g, b1, b2, b3 = chain.main[:4]
    with pytest.raises(InvalidBlock, match="not above the latest justified block"):
        apply_justifications(
            HeaderFinality(justified=b3, final=b2), header_at(5, justify(g, b2)), lambda h: chain.main[h].hash,
            lambda h: AUTHORITIES, carried_justified=_shown_justified(g, b1, b2),
        )


def test_an_older_source_never_moves_finality_back() -> None:
    chain = Chain()
    g, b1, b2, b3, b4 = chain.main[:5]
    # b1 -> b2 would finalize b1, below the final b2 already shown: finality stays at b2.
    prev = HeaderFinality(justified=b3, final=b2)
    after = apply_justifications(
        prev, header_at(6, justify(b1, b4)), lambda h: chain.main[h].hash, lambda h: AUTHORITIES,
        carried_justified=_shown_justified(b1),
    )
    assert after == HeaderFinality(justified=b4, final=b2)


def test_a_source_shown_justified_must_be_on_the_blocks_chain() -> None:
    chain = Chain()
    side3, side4 = chain.side[4], chain.side[5]
    with pytest.raises(InvalidBlock, match="nor on one its headers showed justified before"):
        apply_justifications(
            HeaderFinality(justified=chain.main[2], final=chain.main[1]), header_at(7, justify(side3, side4)),
            lambda h: chain.main[h].hash, lambda h: AUTHORITIES, carried_justified=_shown_justified(side3),
        )


def test_a_vote_short_of_a_quorum_settles_nothing_and_the_one_that_completes_it_does() -> None:
    chain = Chain()
    g, b1 = chain.main[:2]
    tracker = FinalityTracker(GENESIS, chain.parent_of, lambda target: AUTHORITIES)
    votes = votes_for(g, b1)
    assert [tracker.add_vote(vote).justified for vote in votes[:3]] == [(), (), (b1,)]
