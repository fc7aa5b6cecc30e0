from __future__ import annotations

import pytest

from storage.database import open_stores


@pytest.fixture
def stores(tmp_path):
    opened = open_stores(tmp_path / "node")
    yield opened
    opened.close()
