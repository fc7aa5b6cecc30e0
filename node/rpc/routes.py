"""The RPC's route table: every endpoint, its handler and a one-line summary.

The server (app.py) mounts these and the OpenAPI document (openapi.py) describes every
one of them, so what is served and what is documented cannot drift apart.
"""

from __future__ import annotations

from . import (
    access_api, catalog_api, chain_api, consensus_api, content_api, explorer_api, feed_api, gateway_api, license_api, lineage_api,
    metrics, registry_api, reupload, royalty_api, usage_api,
)
from .errors import Handler

Route = tuple[str, str, Handler, str]
"""(method, path, handler, summary)."""

ROUTES: list[Route] = [
    ("GET", "/v1/status", chain_api.get_status, "Node status: network, head, finality, peers"),
    ("GET", "/v1/genesis", chain_api.get_genesis, "The genesis this node runs"),
    ("GET", "/v1/peers", chain_api.get_peers, "Connected peers: their head, finality and score"),
    ("GET", "/v1/sync", chain_api.get_sync, "Sync state: head, the best known peer head"),
    ("POST", "/v1/admin/peering", chain_api.set_peering, "Cut the node off from its peers or reconnect (loopback only)"),
    ("POST", "/v1/admin/perf", chain_api.measure_peer_stream, "Measure one bare stream from a peer, or allow one peer to measure from here (loopback only)"),
    ("POST", "/v1/events", chain_api.submit_event, "Submit a signed event (application/msgpack)"),
    ("POST", "/v1/events/batch", chain_api.submit_event_batch, "Submit many signed events (a MessagePack array)"),
    # Not "batch": that path is the batch submission's alone, so its 405 allows only POST.
    ("GET", "/v1/events/{id:(?!batch$)[^/]+}", chain_api.get_event, "An event's status, block and Merkle inclusion proof"),
    ("GET", "/v1/blocks/{ref}", chain_api.get_block, "A block by height, hash, 'head' or 'finalized'"),
    ("GET", "/v1/headers", chain_api.list_headers, "Canonical headers from a height"),
    ("POST", "/v1/blocks", consensus_api.submit_block, "Submit a signed block (application/msgpack): imported as from a peer"),
    ("POST", "/v1/votes", consensus_api.submit_vote, "Submit a signed finality vote (application/msgpack): counted and gossiped as from a peer"),
    ("GET", "/v1/evidence", consensus_api.list_evidence, "Evidence: two headers one authority signed at one height, or two slashable finality votes"),
    ("GET", "/v1/authorities", consensus_api.get_authorities, "The authority set for the next block and the standing votes"),
    ("GET", "/v1/assets/{cid}", registry_api.get_asset_with_history, "An asset with its provenance history"),
    ("GET", "/v1/accounts/{did}", registry_api.get_account_with_activity, "An account with its activity"),
    ("POST", "/v1/content", content_api.upload_content, "Upload content (streamed, sealed here); returns its CIDs, media facts and content key"),
    ("GET", "/v1/content/{cid}", content_api.get_sealed_content, "The sealed content of an asset or sealed CID, streamed"),
    ("GET", "/v1/content/{cid}/info", content_api.get_content_info, "Sizes and media facts of stored sealed content"),
    ("POST", "/v1/content/{cid}/fetch", content_api.fetch_content, "Fetch sealed content from peers and keep it here"),
    ("GET", "/v1/pins", content_api.list_pins, "The sealed files this node holds (as ipfs pin ls)"),
    ("DELETE", "/v1/pins/{cid}", content_api.remove_pin, "Delete this node's copy of a sealed file (loopback only)"),
    # The data market: search, licenses, licensed download, lineage, royalties.
    ("GET", "/v1/catalog", catalog_api.search, "Catalog search: text and filters, sorted, paginated from indexes"),
    ("POST", "/v1/preflight", license_api.preflight, "Per asset: may an account use it for a purpose, price, attribution"),
    ("GET", "/v1/licenses/{id}", license_api.get_license_by_id, "A license and whether it is in force"),
    ("GET", "/v1/accounts/{did}/licenses", license_api.list_account_licenses, "Licenses an account holds"),
    ("GET", "/v1/assets/{cid}/licenses", license_api.list_asset_licenses, "Licenses issued on an asset"),
    ("GET", "/v1/access/{id}/releases", access_api.get_releases, "Key shares the authorities released for a final access, sealed to its consumer"),
    ("GET", "/v1/lineage/{ref}", lineage_api.get_lineage, "Lineage of a model, app, asset or creator"),
    ("GET", "/v1/models/{id}/proof", lineage_api.get_manifest_proof, "Proof that an asset is or is not in a model's manifest"),
    ("GET", "/v1/royalties/{did}", royalty_api.get_royalties, "A rights holder's royalty statement for a period"),
    ("GET", "/v1/assets/{cid}/usage", royalty_api.get_asset_usage, "An asset's usage per day"),
    *usage_api.ROUTES,
    *reupload.ROUTES,
    # Other protocols than the JSON API: the IPFS trustless gateway, a websocket, the
    # Prometheus exposition and the explorer's pages, documented with their own content types.
    ("GET", "/ipfs/{cid}", gateway_api.get_ipfs, "IPFS trustless gateway: a raw block or a CAR of what this node holds"),
    ("HEAD", "/ipfs/{cid}", gateway_api.get_ipfs, "IPFS trustless gateway: the headers of the same answer"),
    ("GET", "/ipfs/{cid}/{path:.+}", gateway_api.get_ipfs_path, "IPFS trustless gateway: paths (none below a file)"),
    ("GET", "/v1/feed", feed_api.get_feed, "Live feed (websocket): new heads, finality, and events by kind, account or asset"),
    ("GET", "/metrics", metrics.get_metrics, "Prometheus metrics: chain, mempool, peers, gossip, sync and content traffic, feeds, RPC requests"),
    ("GET", "/", explorer_api.get_index, "The explorer: a page to look at the chain, its market and its people"),
    ("GET", "/explorer/{name}", explorer_api.get_explorer_file, "The explorer's scripts and style"),
]
