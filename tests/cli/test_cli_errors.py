"""Bad configuration ends with one line naming the cause and exit status 2, not a traceback."""

from __future__ import annotations

import logging
from datetime import date, timedelta

import psycopg
import pytest

from roomcal_pipeline.cli.main import main
from roomcal_pipeline.config.settings import ConfigError
from roomcal_pipeline.defs.partitions import PARTITIONS_START_DATE, daily_partitions
from tests.unit.test_database_url import CANARY, EVERY_FORM

FIRST = date.fromisoformat(PARTITIONS_START_DATE)
LAST = date.fromisoformat(daily_partitions.get_last_partition_key())  # today in UTC
DAY = timedelta(days=1)


def test_missing_rooms_file(roomcal_env, capsys):
    roomcal_env.setenv("ROOMCAL_GRAPH_TOKEN", "t")
    assert main(["run", "--start", str(LAST - DAY), "--end", str(LAST)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "ROOMCAL_ROOMS_FILE" in err


def test_missing_credentials(roomcal_env, tmp_path, capsys):
    rooms = tmp_path / "rooms.csv"
    rooms.write_text("email,name,building,floor,capacity,timezone\n")
    roomcal_env.setenv("ROOMCAL_ROOMS_FILE", str(rooms))
    assert main(["run", "--start", str(LAST - DAY), "--end", str(LAST)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "AZURE_TENANT_ID" in err


def test_unreachable_database(roomcal_env, tmp_path, capsys):
    rooms = tmp_path / "rooms.csv"
    rooms.write_text("email,name,building,floor,capacity,timezone\n")
    roomcal_env.setenv("ROOMCAL_ROOMS_FILE", str(rooms))
    roomcal_env.setenv("ROOMCAL_GRAPH_TOKEN", "t")
    roomcal_env.setenv("ROOMCAL_DATABASE_URL", "postgresql://roomcal:pw@127.0.0.1:1/none")
    assert main(["run", "--start", str(LAST - DAY), "--end", str(LAST)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "ROOMCAL_DATABASE_URL" in err and "pw" not in err


# --- ROOMCAL_DATABASE_URL: exit 2, one line, no password, whatever its form ---------------

A_WEEK_AGO = LAST - 7 * DAY
COMMANDS = {
    "status": ["status"],
    "run": ["run", "--start", str(A_WEEK_AGO), "--end", str(A_WEEK_AGO + DAY)],
    "sync": ["sync"],
}


@pytest.fixture
def configured(roomcal_env, tmp_path):
    """Everything set but the warehouse, so that `run` and `sync` get as far as it."""
    rooms = tmp_path / "rooms.csv"
    rooms.write_text("email,name,building,floor,capacity,timezone\n")
    roomcal_env.setenv("ROOMCAL_ROOMS_FILE", str(rooms))
    roomcal_env.setenv("ROOMCAL_GRAPH_TOKEN", "t")
    return roomcal_env


def error_line(capsys, caplog) -> str:
    out, err = capsys.readouterr()
    assert CANARY not in out + err + caplog.text
    assert out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    return lines[0]


@pytest.mark.parametrize("url", EVERY_FORM.values(), ids=EVERY_FORM.keys())
@pytest.mark.parametrize("command", COMMANDS.values(), ids=COMMANDS.keys())
def test_database_url_errors_never_show_the_password(configured, command, url, capsys, caplog):
    caplog.set_level(logging.DEBUG)
    configured.setenv("ROOMCAL_DATABASE_URL", url)
    assert main(command) == 2
    assert error_line(capsys, caplog).startswith("roomcal: ROOMCAL_DATABASE_URL")


def test_sqlalchemy_url_says_what_to_drop(configured, capsys, caplog):
    configured.setenv("ROOMCAL_DATABASE_URL", f"postgresql+psycopg://ana:{CANARY}@db/wh")
    assert main(["status"]) == 2
    assert error_line(capsys, caplog) == (
        "roomcal: ROOMCAL_DATABASE_URL: postgresql+psycopg:// is a SQLAlchemy URL; "
        "drop '+psycopg' so that it starts with postgresql://"
    )


def test_garbage_url_names_the_expected_forms(configured, capsys, caplog):
    configured.setenv("ROOMCAL_DATABASE_URL", "notaurl")
    assert main(["status"]) == 2
    assert error_line(capsys, caplog) == (
        "roomcal: ROOMCAL_DATABASE_URL is neither a PostgreSQL URL nor key=value pairs; "
        "expected postgresql://user:password@host:5432/dbname (or postgres://) "
        "or key=value pairs like 'host=db port=5432 user=u password=... dbname=x'"
    )


def test_warehouse_error_after_connecting_is_scrubbed(
    configured, server_warehouse_url, monkeypatch, capsys, caplog
):
    """A psycopg error raised past the connection check (here by the migration) ends as one
    line and exit 2, even when its message echoes the URL and the password."""
    url = psycopg.conninfo.make_conninfo(server_warehouse_url, password=CANARY)  # trust auth
    configured.setenv("ROOMCAL_DATABASE_URL", url)

    def migrate(conn):
        raise psycopg.errors.InsufficientPrivilege(f"permission denied\nfor {url} ({CANARY})")

    monkeypatch.setattr("roomcal_pipeline.warehouse.schema.migrate", migrate)
    assert main(["status"]) == 2
    line = error_line(capsys, caplog)
    assert line.startswith("roomcal: warehouse error: permission denied")


# --- --start/--end: each check says what it enforces ---------------------------------------


@pytest.mark.parametrize(
    ("start", "end", "message"),
    [
        (
            "2026-13-01",
            str(LAST),
            "--start must be a valid date (YYYY-MM-DD); got '2026-13-01': month must be in 1..12",
        ),
        (
            str(A_WEEK_AGO),
            "2026-02-30",
            "--end must be a valid date (YYYY-MM-DD); got '2026-02-30': "
            "day is out of range for month",
        ),
        ("yesterday", str(LAST), "--start must be a date written YYYY-MM-DD; got 'yesterday'"),
        (str(A_WEEK_AGO), "yesterday", "--end must be a date written YYYY-MM-DD; got 'yesterday'"),
        # date.fromisoformat alone takes these two; the message promises YYYY-MM-DD
        ("20260105", str(LAST), "--start must be a date written YYYY-MM-DD; got '20260105'"),
        ("2026-W02-1", str(LAST), "--start must be a date written YYYY-MM-DD; got '2026-W02-1'"),
        (
            str(A_WEEK_AGO),
            f"{A_WEEK_AGO}\n",
            f"--end must be a date written YYYY-MM-DD; got '{A_WEEK_AGO}\\n'",
        ),
        (
            str(A_WEEK_AGO),
            str(A_WEEK_AGO),
            f"--end must be after --start, at least {A_WEEK_AGO + DAY} (YYYY-MM-DD): "
            f"the end date is excluded; got {A_WEEK_AGO}",
        ),
        (
            str(A_WEEK_AGO),
            str(A_WEEK_AGO - DAY),
            f"--end must be after --start, at least {A_WEEK_AGO + DAY} (YYYY-MM-DD): "
            f"the end date is excluded; got {A_WEEK_AGO - DAY}",
        ),
        (
            str(FIRST - DAY),
            str(FIRST + DAY),
            f"--start must be at least {FIRST} (YYYY-MM-DD), the first daily partition; "
            f"got {FIRST - DAY}",
        ),
        (
            str(LAST + DAY),
            str(LAST + 2 * DAY),
            f"--start must be at most {LAST} (YYYY-MM-DD), the last daily partition "
            f"(today in UTC); got {LAST + DAY}",
        ),
        (
            "9999-12-31",
            "9999-12-31",
            f"--start must be at most {LAST} (YYYY-MM-DD), the last daily partition "
            f"(today in UTC); got 9999-12-31",
        ),
        (  # the end the old check let through, though its message said "at most tomorrow"
            str(A_WEEK_AGO),
            str(LAST + 2 * DAY),
            f"--end must be at most {LAST + DAY} (YYYY-MM-DD), the day after the last daily "
            f"partition {LAST} (today in UTC): the end date is excluded; got {LAST + 2 * DAY}",
        ),
    ],
    ids=[
        "month-13",
        "february-30",
        "start-word",
        "end-word",
        "basic-format",
        "week-format",
        "trailing-newline",
        "end-equals-start",
        "end-before-start",
        "before-first-partition",
        "start-after-last-partition",
        "year-9999",
        "end-two-days-after-last-partition",
    ],
)
def test_run_date_checks(configured, start, end, message, capsys, caplog):
    """Date errors come first (the warehouse is never tried), one line, exit 2."""
    configured.setenv("ROOMCAL_DATABASE_URL", f"postgresql://ana:{CANARY}@127.0.0.1:1/wh")
    assert main(["run", "--start", start, "--end", end]) == 2
    assert error_line(capsys, caplog) == f"roomcal: {message}"


def test_end_the_day_after_the_last_partition_is_accepted(roomcal_env, capsys):
    """The latest --end allowed gets past the date checks, to the next one (the registry)."""
    roomcal_env.setenv("ROOMCAL_GRAPH_TOKEN", "t")
    assert main(["run", "--start", str(LAST), "--end", str(LAST + DAY)]) == 2
    assert "ROOMCAL_ROOMS_FILE is not set" in capsys.readouterr().err


def test_run_assets_enforces_the_same_range(tmp_path):
    from roomcal_pipeline.cli.runner import run_assets

    with pytest.raises(ConfigError, match=rf"--end must be at most {LAST + DAY} "):
        run_assets(A_WEEK_AGO, LAST + 2 * DAY, tmp_path)


@pytest.mark.parametrize("weeks", ["0", "-3", "100000000"])
def test_demo_weeks_out_of_range(roomcal_env, weeks, capsys, caplog):
    most = (date.today() - FIRST).days // 7
    assert main(["demo", "--weeks", weeks]) == 2
    assert error_line(capsys, caplog) == (
        f"roomcal: --weeks must be between 1 and {most} (the first daily partition is "
        f"{FIRST}); got {int(weeks)}"
    )
