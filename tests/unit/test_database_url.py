import logging
import os
from pathlib import Path

import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from roomcal_pipeline.config.settings import ConfigError, Settings
from roomcal_pipeline.warehouse.database import (
    check_reachable,
    database_error_line,
    dbt_connection_env,
    parse_database_url,
    redact_url,
    resolve_database_url,
    scrub_secrets,
)


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://ana:s%40cret@db.example:6543/wh?sslmode=require",
        "host=db.example port=6543 user=ana password=s@cret dbname=wh sslmode=require",
    ],
)
def test_dbt_env_from_uri_and_keyword_forms(url):
    assert dbt_connection_env(url) == {
        "ROOMCAL_DB_HOST": "db.example",
        "ROOMCAL_DB_PORT": "6543",
        "ROOMCAL_DB_USER": "ana",
        "ROOMCAL_DB_PASSWORD": "s@cret",
        "ROOMCAL_DB_NAME": "wh",
        "ROOMCAL_DB_SSLMODE": "require",
    }


def test_unix_socket_directory_as_host():
    env = dbt_connection_env("postgresql://postgres:@/roomcal?host=/tmp/pg%20sock")
    assert env["ROOMCAL_DB_HOST"] == "/tmp/pg sock"
    assert env["ROOMCAL_DB_NAME"] == "roomcal"


def test_redact_url_hides_password():
    assert "s3cret" not in redact_url("postgresql://ana:s3cret@db/wh")


def test_gx_sqlalchemy_url_for_socket_and_tcp():
    from roomcal_pipeline.quality.gx_runner import sqlalchemy_url

    assert (
        sqlalchemy_url("postgresql://postgres:@/roomcal?host=/tmp/pg")
        == "postgresql+psycopg2://postgres@/roomcal?host=%2Ftmp%2Fpg"
    )
    assert (
        sqlalchemy_url("host=db port=6000 user=a password=p@ss dbname=wh")
        == "postgresql+psycopg2://a:p%40ss@db:6000/wh"
    )


# --- no password in any message, for every form of ROOMCAL_DATABASE_URL -------------------

CANARY = "S3cretCanary"
CLOSED = "127.0.0.1"  # port 1: nothing listens, the connection is refused at once

# Well-formed URLs of a server that is not there: "cannot connect to <URL redacted>".
UNREACHABLE = {
    "uri": f"postgresql://ana:{CANARY}@{CLOSED}:1/wh?connect_timeout=2",
    "uri-postgres-scheme": f"postgres://ana:{CANARY}@{CLOSED}:1/wh?connect_timeout=2",
    "uri-query-password": f"postgresql://ana@{CLOSED}:1/wh?password={CANARY}&sslmode=disable",
    "uri-percent-encoded": f"postgresql://ana:{CANARY[:6]}%43{CANARY[7:]}@{CLOSED}:1/wh",
    "uri-two-hosts": f"postgresql://ana:{CANARY}@{CLOSED}:1,localhost:1/wh?connect_timeout=2",
    "keyword": f"host={CLOSED} port=1 user=ana password={CANARY} dbname=wh connect_timeout=2",
    "keyword-quoted": f"host={CLOSED} port=1 user=ana password='{CANARY} a b' dbname=wh",
    "keyword-spaces": f"host = {CLOSED} port = 1 user = ana password = {CANARY} dbname = wh",
    "keyword-bad-timeout": f"host={CLOSED} port=1 password={CANARY} connect_timeout=abc",
}
# URLs libpq cannot use, each with (part of) the expected one line.
INVALID = {
    "sqlalchemy-psycopg": (
        f"postgresql+psycopg://ana:{CANARY}@{CLOSED}:1/wh",
        "postgresql+psycopg:// is a SQLAlchemy URL; drop '+psycopg'",
    ),
    "sqlalchemy-psycopg2": (
        f"postgresql+psycopg2://ana:{CANARY}@{CLOSED}:1/wh",
        "postgresql+psycopg2:// is a SQLAlchemy URL; drop '+psycopg2'",
    ),
    "garbage": ("notaurl", "is neither a PostgreSQL URL nor key=value pairs; expected"),
    "http": (f"http://ana:{CANARY}@x/wh", "http:// is not a PostgreSQL URL; expected"),
    "upper-case-scheme": (f"POSTGRESQL://ana:{CANARY}@x/wh", "in lower case, postgresql://"),
    "unknown-uri-parameter": (
        f"postgresql://ana:{CANARY}@{CLOSED}:1/wh?bogus={CANARY}",
        "invalid URI query parameter",
    ),
    "bad-percent-encoding": (f"postgresql://ana:{CANARY}%zz@x/wh", "invalid percent-encoded"),
    "unquoted-space": (
        f"host={CLOSED} password={CANARY} {CANARY}x",
        "a word is not key=value; quote a value with spaces, password='a b'",
    ),
    "unterminated-quote": (f"host={CLOSED} password='{CANARY}", "unterminated quoted string"),
    "unencoded-at": (f"postgresql://ana:{CANARY}@x@{CLOSED}:1/wh", "percent-encode '@' and '/'"),
    "unencoded-slash": (f"postgresql://ana:S3/{CANARY}@{CLOSED}:1/wh", "percent-encode"),
    "port-not-a-number": (f"host={CLOSED} port={CANARY}", "the port is not a number"),
}
EVERY_FORM = {**UNREACHABLE, **{name: url for name, (url, _) in INVALID.items()}}


def one_line_without_canary(text: str) -> str:
    text = text.strip()
    assert CANARY not in text
    assert CANARY.lower() not in text.lower()
    assert "\n" not in text, text
    return text


@pytest.mark.parametrize("url", EVERY_FORM.values(), ids=EVERY_FORM.keys())
def test_redact_url_shows_no_password(url):
    one_line_without_canary(redact_url(url))


@pytest.mark.parametrize("url", UNREACHABLE.values(), ids=UNREACHABLE.keys())
def test_unreachable_message_names_the_server_without_password(url, caplog):
    caplog.set_level(logging.DEBUG)
    with pytest.raises(ConfigError) as info:
        check_reachable(url)
    message = one_line_without_canary(str(info.value))
    assert message.startswith("ROOMCAL_DATABASE_URL: cannot connect to ")
    assert CLOSED in message and "***" in message
    assert CANARY not in caplog.text
    assert "checking the warehouse at" in caplog.text  # the log line is there, redacted


@pytest.mark.parametrize(("url", "expected"), INVALID.values(), ids=INVALID.keys())
def test_invalid_url_one_line_without_password(url, expected, caplog):
    caplog.set_level(logging.DEBUG)
    for call in (parse_database_url, check_reachable, dbt_connection_env):
        with pytest.raises(ConfigError) as info:
            call(url)
        message = one_line_without_canary(str(info.value))
        assert message.startswith("ROOMCAL_DATABASE_URL")
        assert expected in message
    with pytest.raises(ConfigError) as info:
        resolve_database_url(url, Path("/nonexistent"))
    assert expected in one_line_without_canary(str(info.value))
    assert CANARY not in caplog.text


def test_psycopg_errors_are_scrubbed_of_every_form_of_the_password():
    url = f"postgresql://ana:{CANARY[:6]}%43{CANARY[7:]}@db/wh?sslpassword={CANARY}2"
    echo = f"server said {url} and {CANARY} and {CANARY[:6]}%43{CANARY[7:]} and {CANARY}2"
    line = one_line_without_canary(database_error_line(Exception(echo + "\nmore"), url))
    assert line.startswith("server said postgresql://ana:***@db/wh?sslpassword=***")
    # a string libpq cannot read: its secrets are unknown, so no quoted fragment stays
    unreadable = f"host=db password='{CANARY}"
    assert CANARY not in scrub_secrets(f'bad "{CANARY}" in {unreadable}', unreadable)


def test_keyword_form_keeps_its_order_and_quoting():
    url = f"host = db port=6543 user=ana password = '{CANARY} a\\' b' dbname='my wh'"
    assert redact_url(url) == "host=db port=6543 user=ana password=*** dbname='my wh'"


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        (f"postgresql://ana:{CANARY}@db:6543/wh", "postgresql://ana:***@db:6543/wh"),
        (f"postgres://ana:S3#{CANARY}@db/wh", "postgres://ana:***@db/wh"),
        (f"postgresql://ana:S3?{CANARY}@db/wh?sslmode=require", None),
        (
            f"postgresql:///wh?host=/tmp&password={CANARY}",
            "postgresql:///wh?host=/tmp&password=***",
        ),
        ("postgresql://postgres@127.0.0.1:5432/test", "postgresql://postgres@127.0.0.1:5432/test"),
    ],
)
def test_redact_uri_keeps_the_uri(url, shown):
    redacted = one_line_without_canary(redact_url(url))
    assert redacted == (shown or "postgresql://ana:***@db/wh?sslmode=require")


def test_settings_repr_hides_the_url():
    settings = Settings.from_env({"ROOMCAL_DATABASE_URL": EVERY_FORM["uri"]})
    assert settings.database_url == EVERY_FORM["uri"]
    assert CANARY not in repr(settings)


def test_libpq_password_sources_are_left_alone(monkeypatch, tmp_path, caplog):
    """PGPASSWORD and the password file stay libpq's business: not read into, nor shown in,
    any message, nor changed."""
    caplog.set_level(logging.DEBUG)
    passfile = tmp_path / "pgpass"
    passfile.write_text(f"{CLOSED}:1:*:ana:{CANARY}\n")
    passfile.chmod(0o600)
    monkeypatch.setenv("PGPASSWORD", CANARY)
    monkeypatch.setenv("PGPASSFILE", str(passfile))
    url = f"postgresql://ana@{CLOSED}:1/wh"
    assert "password" not in parse_database_url(url)
    assert redact_url(url) == url
    with pytest.raises(ConfigError) as info:
        check_reachable(url)
    one_line_without_canary(str(info.value))
    assert CANARY not in caplog.text
    assert os.environ["PGPASSWORD"] == CANARY
    assert passfile.read_text() == f"{CLOSED}:1:*:ana:{CANARY}\n"


def test_connect_timeout_of_the_url_is_kept(monkeypatch):
    seen = {}

    def connect(url, **kwargs):
        seen.update(kwargs)
        raise psycopg.OperationalError("refused")

    monkeypatch.setattr(psycopg, "connect", connect)
    monkeypatch.delenv("PGCONNECT_TIMEOUT", raising=False)
    with pytest.raises(ConfigError):
        check_reachable(f"postgresql://ana@{CLOSED}:1/wh?connect_timeout=2")
    assert seen == {}
    with pytest.raises(ConfigError):
        check_reachable(f"postgresql://ana@{CLOSED}:1/wh")
    assert seen == {"connect_timeout": 10}


def test_reachable_server_logs_the_url_redacted(server_warehouse_url, caplog):
    caplog.set_level(logging.DEBUG)
    params = conninfo_to_dict(server_warehouse_url)
    # trust authentication: a password is sent and ignored, so the URL works as given
    uri = (
        f"postgresql://{params.get('user', 'postgres')}:{CANARY}@{params['host']}:"
        f"{params.get('port', 5432)}/{params['dbname']}"
    )
    for url in (uri, make_conninfo(server_warehouse_url, password=CANARY)):
        assert resolve_database_url(url, Path("/nonexistent")) == url
    assert "***" in caplog.text
    assert CANARY not in caplog.text
