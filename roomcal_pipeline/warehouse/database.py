"""Which PostgreSQL to use: `ROOMCAL_DATABASE_URL`, or an embedded server of our own.

The embedded server (pgserver) lives under the data folder, is started by the
first command that needs it and keeps running for the next ones, so `roomcal
demo`, `dagster dev` and dbt all see the same warehouse; `roomcal stop-db`
stops it cleanly.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from urllib.parse import urlparse

import psycopg
from psycopg.conninfo import conninfo_to_dict

from roomcal_pipeline.config.settings import ConfigError

EMBEDDED_DATABASE = "roomcal"
_log = logging.getLogger(__name__)


def embedded_pgdata(data_dir: Path) -> Path:
    return (Path(data_dir) / "pgdata").resolve()


def start_embedded(data_dir: Path) -> str:
    """Start (or reuse) the embedded server and return a URL to its `roomcal` database."""
    import pgserver  # imported here: starting a server is I/O, never done at import
    from pgserver.postgres_server import PostgresServer

    pgdata = embedded_pgdata(data_dir)
    pgdata.mkdir(parents=True, exist_ok=True)
    try:
        server = pgserver.get_server(pgdata, cleanup_mode=None)
        if not (pgdata / "postmaster.pid").exists():
            # pgserver keeps one handle per data folder per process; after the server was
            # stopped (`roomcal stop-db`, a reboot) that handle is stale: start a new one.
            # (postmaster.pid is removed by a clean stop; psutil may still see a zombie.)
            PostgresServer._instances.pop(pgdata, None)
            server = pgserver.get_server(pgdata, cleanup_mode=None)
    except Exception as exc:  # pgserver raises plain exceptions with its log path
        raise ConfigError(f"embedded PostgreSQL under {pgdata} did not start: {exc}") from None
    admin_url = server.get_uri()
    with psycopg.connect(admin_url, autocommit=True) as conn:
        exists = conn.execute(
            "select 1 from pg_database where datname = %s", (EMBEDDED_DATABASE,)
        ).fetchone()
        if not exists:
            conn.execute(f'create database "{EMBEDDED_DATABASE}"')
    return server.get_uri(EMBEDDED_DATABASE)


def stop_embedded(data_dir: Path) -> bool:
    """Stop the embedded server if it runs; True when one was stopped."""
    from pgserver._commands import pg_ctl

    pgdata = embedded_pgdata(data_dir)
    if not (pgdata / "postmaster.pid").exists():
        return False
    user = "pgserver" if os.name == "posix" and os.geteuid() == 0 else None
    pg_ctl(["-w", "-m", "fast", "stop"], pgdata=pgdata, user=user)
    return True


def resolve_database_url(database_url: str | None, data_dir: Path) -> str:
    """The configured URL, checked to be reachable, or the embedded server's."""
    url = database_url or start_embedded(data_dir)
    check_reachable(url)
    return url


def check_reachable(url: str) -> None:
    try:
        with psycopg.connect(url, connect_timeout=10) as conn:
            conn.execute("select 1")
    except psycopg.OperationalError as exc:
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ConfigError(
            f"ROOMCAL_DATABASE_URL: cannot connect to {redact_url(url)}: {first_line}"
        ) from None


def redact_url(url: str) -> str:
    """The URL with any password replaced, for messages."""
    parsed = urlparse(url)
    if parsed.password:
        netloc = parsed.netloc.replace(f":{parsed.password}@", ":***@")
        return parsed._replace(netloc=netloc).geturl()
    return url


def dbt_connection_env(url: str) -> dict[str, str]:
    """The `ROOMCAL_DB_*` variables that dbt_project/profiles.yml reads, from a libpq URL
    or keyword/value string (libpq's own parser, so both forms mean the same as for psycopg)."""
    params = conninfo_to_dict(url)
    return {
        "ROOMCAL_DB_HOST": str(params.get("host") or "localhost").split(",")[0],
        "ROOMCAL_DB_PORT": str(params.get("port") or 5432).split(",")[0],
        "ROOMCAL_DB_USER": str(params.get("user") or "postgres"),
        "ROOMCAL_DB_PASSWORD": str(params.get("password") or ""),
        "ROOMCAL_DB_NAME": str(params.get("dbname") or params.get("user") or "postgres"),
        "ROOMCAL_DB_SSLMODE": str(params.get("sslmode") or "prefer"),
    }
