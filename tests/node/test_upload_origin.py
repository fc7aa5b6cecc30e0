"""Uploads hand out the content key, so they are taken only from a client on this machine."""

from __future__ import annotations

from unittest import mock

import pytest
from aiohttp.test_utils import make_mocked_request

from node.rpc.content_api import upload_content
from node.rpc.errors import ApiError


def request_from(address: str):
    transport = mock.Mock()
    transport.get_extra_info.side_effect = lambda name, default=None: (address, 40000) if name == "peername" else default
    return make_mocked_request("POST", "/v1/content", headers={"Content-Type": "audio/wav"}, transport=transport)


@pytest.mark.parametrize("address", ["192.168.1.20", "10.0.0.7", "2001:db8::1"])
async def test_an_upload_from_another_machine_is_refused_before_its_body_is_read(address: str) -> None:
    with pytest.raises(ApiError) as refused:
        await upload_content(request_from(address))
    assert refused.value.status == 403 and "content key" in refused.value.message
