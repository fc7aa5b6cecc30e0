"""A deterministic simulation of consensus (after FoundationDB's and TigerBeetle's).

Many authorities' consensus logic runs in one process, on a virtual clock and a simulated
network with seeded delays, drops, reordering, partitions, crashes and byzantine
authorities. Each run is a function of its seed: ``python -m tests.simulation --seed N``
replays one. The node's pure rules (protocol/consensus.py, protocol/votes.py,
protocol/finality.py) are called as they are; what the node does through asyncio and
storage is mirrored here, each mirror naming the node code it follows.
"""
