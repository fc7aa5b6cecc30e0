"""Wiring a node together and running it until SIGINT or SIGTERM."""

from __future__ import annotations

import asyncio
import gc
import logging
import signal
from pathlib import Path

from protocol.genesis import Genesis
from protocol.keys import SigningKey
from protocol.sealing import sealed_size
from protocol.state import BlockContext
from storage.database import Stores, open_stores
from storage.releases import ReleaseStore
from storage.votes import VoteStore
from storage.errors import OtherNetwork

from node.chain.clock import Clock, system_clock
from node.chain.content_sweeper import run_content_sweeper
from .config import Config, ConfigError
from node.files.genesis_file import load_genesis, write_genesis
from node.chain.importer import BlockImporter
from node.chain.intake import EventIntake
from node.chain.journal import EventJournal
from node.files.node_keys import key_from_seed, read_key_file, write_key_file
from node.chain.key_release import CustodyWatch, KeyReleaser
from node.chain.ledger import HeadChange, Ledger
from node.chain.liveness import AuthorityLiveness
from node.chain.mempool import Mempool
from .p2p.identity import load_or_create_node_key, peer_id_of
from .p2p.network import Network
from node.chain.producer import BlockProducer
from node.chain.vote_pool import VotePool
from node.chain.voter import Voter, VoteRecord, VoteRecordError
from .rpc.app import create_app
from .rpc.server import serve_rpc
from .services import Services

SHUTDOWN_REPORT_S = 8.0
"""How long parts may take to end after SIGTERM before the log names those still running."""

log = logging.getLogger("audiera.node")

DEV_NETWORK_ID = "audiera-dev"
DEV_BLOCK_PERIOD_MS = 1000
DEV_CREDITS = 10**12


def ensure_dev_network(config: Config, clock: Clock) -> Genesis:
    """A dev node creates its key and a one-authority genesis on first start, then reuses them."""
    genesis_path = config.data_dir / "genesis.toml"
    if genesis_path.exists():
        return load_genesis(genesis_path)
    assert config.authority_key_file is not None
    if config.authority_key_file.exists():
        key = read_key_file(config.authority_key_file)
    else:
        key = SigningKey.generate()
        write_key_file(config.authority_key_file, key)
    now = clock()
    genesis = Genesis(
        network_id=DEV_NETWORK_ID,
        timestamp=now - now % DEV_BLOCK_PERIOD_MS,
        authorities=(key.did,),
        block_period_ms=DEV_BLOCK_PERIOD_MS,
        allocations=((key.did, DEV_CREDITS),),
    )
    write_genesis(genesis_path, genesis)
    log.info("created dev network %s with authority %s", genesis.hash.hex()[:16], key.did)
    return genesis


def _update_mempool(mempool: Mempool, change: HeadChange, period_ms: int) -> None:
    head = change.applied[-1]
    included = [event_id for block in change.applied for event_id in block.event_ids]
    returned = [event for block in reversed(change.reverted) for event in block.events]
    mempool.on_new_head(included, BlockContext(head.height + 1, head.header.ts + period_ms), returned)


def load_authority(config: Config, authorities: tuple[str, ...]) -> SigningKey | None:
    """The key this node signs blocks with, if it has one.

    The key need not be an authority yet: the authorities can vote it in (``authority.vote``),
    and a key added after genesis is never in the genesis set. The producer signs only
    while the key is in the current set, so a node may start as a candidate.
    """
    if config.authority_seed is not None:
        key = key_from_seed(config.authority_seed)
    elif config.authority_key_file is not None:
        key = read_key_file(config.authority_key_file)
    else:
        return None
    if key.did not in authorities:
        log.warning(
            "the configured authority key (%s) is not a current authority: "
            "this node signs blocks only once the authorities vote it in",
            key.did,
        )
    return key


def _voter(config: Config, ledger: Ledger, votes: VotePool, key: SigningKey | None, network: Network) -> Voter | None:
    """This node's finality voter, when it has an authority key (it votes while the key is in the set)."""
    if key is None:
        return None
    try:
        return Voter(ledger, votes, key, VoteRecord(config.data_dir), network.announce_vote)
    except VoteRecordError as exc:
        raise ConfigError(str(exc)) from None


def wants_replication(config: Config, key: SigningKey | None) -> bool:
    policy = config.p2p.replicate
    return policy == "all" or (policy == "authorities" and key is not None)


async def run_node(config: Config, *, clock: Clock = system_clock, ready_file: Path | None = None) -> None:
    config.data_dir.mkdir(parents=True, exist_ok=True)
    genesis = ensure_dev_network(config, clock) if config.is_dev else load_genesis(config.genesis_file)  # type: ignore[arg-type]
    stores = open_stores(config.data_dir)
    try:
        await _run(config, genesis, stores, clock, ready_file)
    finally:
        stores.close()
        log.info("stopped")


async def _run(config: Config, genesis: Genesis, stores: Stores, clock: Clock, ready_file: Path | None) -> None:
    removed = stores.content.remove_partial_uploads()
    if removed:
        log.info("removed %d partial upload(s) left by an earlier stop", removed)
    try:
        ledger = Ledger(stores.chain, genesis)
    except OtherNetwork as exc:
        raise ConfigError(
            f"{config.data_dir} holds network {exc.stored.hex()[:16]}…, not this genesis "
            f"({genesis.hash.hex()[:16]}…, {config.genesis_file or 'the dev genesis'}). To start this network over, "
            f"stop the node and remove {config.data_dir} (a local testnet: audiera testnet up --reset); "
            "else run with the genesis that directory was made with"
        ) from None
    votes = VotePool(ledger, VoteStore(stores.db))
    mempool = Mempool(stores.chain, max_events=config.mempool.max_events, max_future_nonces=config.mempool.max_future_nonces)
    ledger.add_listener(lambda change: _update_mempool(mempool, change, genesis.block_period_ms))
    key = load_authority(config, ledger.authorities)
    journal = EventJournal(config.data_dir / "events.journal")
    intake = EventIntake(ledger, mempool, stores.content, clock, journal)
    journaled = journal.open()
    if journaled:
        log.info("re-admitted %d of %d journaled event(s)", intake.readmit_journaled(journaled), len(journaled))
    node_key = load_or_create_node_key(config.data_dir, config.p2p.identity_seed)
    importer = BlockImporter(ledger, clock)
    votes.on_justified(importer.reconsider)
    liveness = AuthorityLiveness(clock)
    releases = ReleaseStore(stores.db)
    network = Network(
        config.p2p,
        node_key,
        ledger,
        intake,
        mempool,
        importer,
        stores.content,
        votes,
        releases,
        replicate=wants_replication(config, key),
        max_content_bytes=sealed_size(config.rpc.max_upload_bytes),  # what the largest upload seals to
        liveness=liveness,
        authority_key=key,
        peers_file=config.data_dir / "peers.json",
    )
    intake.on_admitted(network.announce_event)
    ledger.add_listener(network.on_head_change)
    importer.on_evidence(network.announce_evidence)
    votes.on_evidence(network.announce_evidence)
    ledger.add_finality_listener(network.on_finality_change)
    voter = _voter(config, ledger, votes, key, network)
    releaser = KeyReleaser(ledger, releases, key, network.announce_release)
    ledger.add_finality_listener(releaser.on_finality)
    custody_watch = CustodyWatch(ledger)
    custody_watch.on_head_change()
    ledger.add_listener(custody_watch.on_head_change)
    services = Services(
        config=config,
        genesis=genesis,
        ledger=ledger,
        mempool=mempool,
        intake=intake,
        content=stores.content,
        authority=key.did if key else None,
        node_id=peer_id_of(node_key),
        clock=clock,
        network=network,
        importer=importer,
        votes=votes,
        liveness=liveness,
        releases=releases,
        custody_watch=custody_watch,
    )
    try:
        await network.start()
    except Exception as exc:
        raise ConfigError(f"cannot start networking on {config.p2p.listen}: {exc}") from None
    if voter is not None:
        voter.start()
    made = releaser.release_up_to(ledger.finalized.height)
    if made:
        log.info("released %d key share(s) for accesses that became final while this node was away", made)
    try:
        await _serve(services, key, ready_file)
    finally:
        await network.stop()
        journal.close()


async def _serve(services: Services, key: SigningKey | None, ready_file: Path | None) -> None:
    async with serve_rpc(create_app(services), services.config.rpc) as url:
        log.info(
            "network %s (genesis %s), head %d; RPC %s; peer %s; %s",
            services.genesis.network_id,
            services.genesis.hash.hex()[:16],
            services.ledger.head.height,
            url,
            services.node_id,
            f"producing blocks as {key.did}" if key else "not an authority",
        )
        # Everything alive now (modules, libp2p, config) lives as long as the node: out of
        # the collector's sight, a full collection under load takes 15-160 ms instead of
        # 130-530 ms, during which the node, network thread included, stands still.
        gc.freeze()
        if ready_file is not None:
            ready_file.write_text(url + "\n")
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        async with asyncio.TaskGroup() as tasks:
            workers = [
                tasks.create_task(services.network.run(), name="network"),
                tasks.create_task(
                    run_content_sweeper(
                        services.content, services.ledger, services.mempool, services.clock, services.config.content.pending_ttl_s
                    ),
                    name="content-sweeper",
                ),
            ]
            if key is not None:
                producer = BlockProducer(
                    services.ledger,
                    services.mempool,
                    key,
                    services.clock,
                    services.network.announce_block,
                    may_produce=services.network.ready_to_produce,
                    block_in_flight=services.network.block_in_flight,
                    last_heard_ms=services.liveness.last_heard_ms,
                )
                workers.append(tasks.create_task(producer.run(), name="producer"))
            tasks.create_task(_cancel_on(stop, workers), name="shutdown")
        log.info("shutting down at head %d", services.ledger.head.height)


async def _cancel_on(stop: asyncio.Event, workers: list[asyncio.Task]) -> None:
    await stop.wait()
    log.info("stopping")
    for worker in workers:
        worker.cancel()
    _, pending = await asyncio.wait(workers, timeout=SHUTDOWN_REPORT_S)
    # A part that does not end when cancelled keeps the node from stopping; say which,
    # with where it waits, so that the log of a node that had to be killed shows the cause.
    for task in asyncio.all_tasks() if pending else ():
        if not task.done() and task is not asyncio.current_task():
            log.warning("still stopping after %.0f s: %s at %s", SHUTDOWN_REPORT_S, task.get_name(), _where(task))


def _where(task: asyncio.Task) -> str:
    """The chain of awaits a task is suspended in, outermost first."""
    places, awaited = [], task.get_coro()
    while awaited is not None and len(places) < 20:
        frame = getattr(awaited, "cr_frame", None) or getattr(awaited, "gi_frame", None)
        if frame is None:
            places.append(type(awaited).__name__)
            break
        places.append(f"{frame.f_code.co_filename.rsplit('/', 1)[-1]}:{frame.f_lineno} {frame.f_code.co_name}")
        awaited = getattr(awaited, "cr_await", None) or getattr(awaited, "gi_yieldfrom", None)
    return " -> ".join(places) or "?"
