"""`roomcal db-url`: the warehouse URL for psql, Metabase or Power BI, its password hidden
unless asked for."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import psycopg
import pytest

from roomcal_pipeline.cli.main import main

PASSWORD = "S3cret-pw"


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        (
            f"postgresql://bi:{PASSWORD}@db.example:5432/warehouse?sslmode=require",
            "postgresql://bi:***@db.example:5432/warehouse?sslmode=require",
        ),
        (
            f"host=db.example user=bi password={PASSWORD} dbname=warehouse",
            "host=db.example user=bi password=*** dbname=warehouse",
        ),
    ],
    ids=["uri", "keywords"],
)
def test_the_password_is_hidden_unless_asked_for(roomcal_env, capsys, url, shown):
    roomcal_env.setenv("ROOMCAL_DATABASE_URL", url)
    assert main(["db-url"]) == 0
    out, err = capsys.readouterr()
    assert out == f"{shown}\n"
    assert PASSWORD not in out + err and "--show-password" in err
    assert main(["db-url", "--show-password"]) == 0
    assert capsys.readouterr().out == f"{url}\n"


def test_an_unreadable_url_is_one_line_without_the_password(roomcal_env, capsys):
    roomcal_env.setenv("ROOMCAL_DATABASE_URL", f"postgresql+psycopg://bi:{PASSWORD}@h/db")
    assert main(["db-url", "--show-password"]) == 2
    out, err = capsys.readouterr()
    assert out == "" and PASSWORD not in err
    assert err.count("\n") == 1 and err.startswith("roomcal: ROOMCAL_DATABASE_URL: ")


def test_the_embedded_url_answers(roomcal_env, capsys):
    """The embedded server is started if it is not running, and psql's library takes the URL."""
    from roomcal_pipeline.warehouse.database import stop_embedded

    data_dir = Path(tempfile.mkdtemp(prefix="roomcal-dburl-"))  # short: a Unix socket path
    roomcal_env.setenv("ROOMCAL_DATA_DIR", str(data_dir))
    try:
        assert main(["db-url"]) == 0
        out, err = capsys.readouterr()
        url = out.strip()
        assert url.startswith("postgresql://") and "Unix socket" in err
        with psycopg.connect(url) as conn:
            assert conn.execute("select current_database()").fetchone()[0] == "roomcal"
    finally:
        stop_embedded(data_dir)
        shutil.rmtree(data_dir, ignore_errors=True)
