"""pytest fixtures for the offline catalog: the fake catalog server on 127.0.0.1, a catalog in a temp dir.

    async def test_x(catalog_server, catalog_db, catalog_sync): ...
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import pytest_asyncio

from agent.catalog import CatalogDb
from agent.catalog_sync import CatalogSync
from agent.cloud import SnapshotClient
from simulators.catalog_data import SnapshotSpec
from simulators.catalog_server import CatalogServer

TOKEN = "test-token"


@pytest_asyncio.fixture
async def catalog_server() -> AsyncIterator[CatalogServer]:
    """A started fake catalog server with 200 products and 50 members at version 1, gzip on, token required."""
    server = CatalogServer(SnapshotSpec(products=200, members=50, version=1), token=TOKEN)
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


@pytest.fixture
def catalog_token_file(tmp_path: Path) -> Path:
    path = tmp_path / "cloud.token"
    path.write_text(TOKEN + "\n", encoding="utf-8")
    path.chmod(0o600)
    return path


@pytest.fixture
def catalog_db(tmp_path: Path) -> Iterator[CatalogDb]:
    """An empty catalog in a fresh state directory, closed after the test."""
    catalog = CatalogDb.open(tmp_path / "state")
    try:
        yield catalog
    finally:
        catalog.close()


@pytest.fixture
def catalog_sync(catalog_db: CatalogDb, catalog_server: CatalogServer, catalog_token_file: Path) -> CatalogSync:
    """The sync component pointed at the fake server, with fast retries and a short deadline for tests."""
    client = SnapshotClient(catalog_server.url, token_file=catalog_token_file, deadline_s=10, attempts=3,
                            backoff_s=0.01, read_timeout_s=5)
    return CatalogSync(catalog_db, client, max_age_s=3600, poll_interval_s=3600)
