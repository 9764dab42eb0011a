"""Shared fixtures: a real PostgreSQL on both paths (server and embedded) and the simulated tenant.

`server` uses ROOMCAL_TEST_SERVER_URL (default: the local 127.0.0.1:5432 server). On
a machine without one it is skipped, except under CI (CI=true), where it must exist.
`embedded` starts pgserver under a temporary folder: it works on any machine.
"""

from __future__ import annotations

import itertools
import os
import shutil
import tempfile
import uuid
from pathlib import Path

import psycopg
import pytest

SERVER_URL = os.environ.get("ROOMCAL_TEST_SERVER_URL", "postgresql://postgres@127.0.0.1:5432/test")
BACKENDS = ("server", "embedded")
_counter = itertools.count()


def pytest_configure(config):
    """The dbt manifest, prepared once before any test module imports the definitions."""
    from roomcal_pipeline.transform.project import ensure_manifest

    ensure_manifest()


@pytest.fixture(scope="session")
def embedded_admin_url() -> str:
    """The embedded server, in a folder of its own: pytest prunes old basetemp folders
    when sessions overlap, which must never pull a live data directory away."""
    from roomcal_pipeline.warehouse.database import start_embedded, stop_embedded

    data_dir = Path(tempfile.mkdtemp(prefix="roomcal-embedded-"))
    url = start_embedded(data_dir)
    yield url
    stop_embedded(data_dir)
    shutil.rmtree(data_dir, ignore_errors=True)


def _server_admin_url() -> str:
    try:
        with psycopg.connect(SERVER_URL, connect_timeout=3) as conn:
            conn.execute("select 1")
    except psycopg.OperationalError as exc:
        if os.environ.get("CI"):
            pytest.fail(f"CI needs the PostgreSQL server at {SERVER_URL}: {exc}")
        pytest.skip(f"no PostgreSQL server at {SERVER_URL}")
    return SERVER_URL


def _fresh_database(admin_url: str) -> tuple[str, str]:
    name = f"roomcal_test_{os.getpid()}_{next(_counter)}_{uuid.uuid4().hex[:6]}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'create database "{name}"')
    return name, psycopg.conninfo.make_conninfo(admin_url, dbname=name)


def _drop_database(admin_url: str, name: str) -> None:
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'drop database if exists "{name}" with (force)')


def _admin_url(request, backend: str) -> str:
    if backend == "server":
        return _server_admin_url()
    return request.getfixturevalue("embedded_admin_url")


@pytest.fixture(params=BACKENDS)
def warehouse_url(request) -> str:
    """A new, empty database on the server or the embedded PostgreSQL."""
    admin = _admin_url(request, request.param)
    name, url = _fresh_database(admin)
    yield url
    _drop_database(admin, name)


@pytest.fixture(scope="module", params=BACKENDS)
def module_warehouse_url(request) -> str:
    """Like warehouse_url, shared by the tests of one module (for expensive pipeline runs)."""
    admin = _admin_url(request, request.param)
    name, url = _fresh_database(admin)
    yield url
    _drop_database(admin, name)


@pytest.fixture(scope="module")
def module_server_warehouse_url() -> str:
    """Like module_warehouse_url, on the server only: for modules whose subject is not the
    warehouse path (test_marts and the privacy canaries run the pipeline on both)."""
    admin = _server_admin_url()
    name, url = _fresh_database(admin)
    yield url
    _drop_database(admin, name)


@pytest.fixture
def server_warehouse_url() -> str:
    """A new database on the server only, for tests that need not run on both paths."""
    admin = _server_admin_url()
    name, url = _fresh_database(admin)
    yield url
    _drop_database(admin, name)


def clean_roomcal_env(monkeypatch: pytest.MonkeyPatch, folder: Path) -> pytest.MonkeyPatch:
    """A clean docs/configuration.md environment with its own DAGSTER_HOME and data folder."""
    for key in list(os.environ):
        if key.startswith(("ROOMCAL_", "AZURE_")) or key == "DAGSTER_HOME":
            monkeypatch.delenv(key, raising=False)
    home = folder / "dagster_home"
    home.mkdir(parents=True, exist_ok=True)
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    monkeypatch.setenv("ROOMCAL_DATA_DIR", str(folder / "data"))
    return monkeypatch


@pytest.fixture
def roomcal_env(monkeypatch, tmp_path: Path):
    return clean_roomcal_env(monkeypatch, tmp_path)
