"""The content server: content blocks by CID, for peers fetching a file."""

from __future__ import annotations

from storage.content import ContentStore

from .messages import decode_content_request, encode_content_blocks
from .traffic import Stream, TrafficCounters


class ContentServer:
    def __init__(self, store: ContentStore, traffic: TrafficCounters | None = None) -> None:
        self._store = store
        self._traffic = traffic if traffic is not None else TrafficCounters()

    def serve(self, peer: str, request: bytes) -> bytes:
        """The blocks asked for that this node has. Blocking: runs in a worker thread."""
        found = []
        for cid in decode_content_request(request):
            data = self._store.get_block(cid)
            if data is not None:
                found.append((cid, data))
        answer = encode_content_blocks(found)
        self._traffic.served(Stream.CONTENT, request, answer)
        return answer
