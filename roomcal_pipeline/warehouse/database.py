"""Which PostgreSQL to use: `ROOMCAL_DATABASE_URL`, or an embedded server of our own.

The embedded server (pgserver) lives under the data folder, is started by the
first command that needs it and keeps running for the next ones, so `roomcal
demo`, `dagster dev` and dbt all see the same warehouse; `roomcal stop-db`
stops it cleanly.
"""

from __future__ import annotations

import logging
import os
import re
from pathlib import Path
from urllib.parse import quote, unquote

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo

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
    """The configured URL, checked to be well-formed and reachable, or the embedded server's."""
    url = database_url or start_embedded(data_dir)
    check_reachable(url)
    return url


def check_reachable(url: str) -> None:
    """Connect once; when that fails, a ConfigError naming the URL without its password."""
    params = parse_database_url(url)
    _log.debug("checking the warehouse at %s", redact_url(url))
    # connect_timeout of the URL or PGCONNECT_TIMEOUT if given, else 10 s
    given = params.get("connect_timeout") or os.environ.get("PGCONNECT_TIMEOUT")
    timeout = {} if given else {"connect_timeout": 10}
    try:
        with psycopg.connect(url, **timeout) as conn:
            conn.execute("select 1")
    except psycopg.Error as exc:
        raise ConfigError(
            f"ROOMCAL_DATABASE_URL: cannot connect to {redact_url(url)}: "
            f"{database_error_line(exc, url)}"
        ) from None


# libpq options whose value is a secret: never shown in a message or a log.
SECRET_OPTIONS = frozenset(
    {"password", "sslpassword", "scram_client_key", "scram_server_key", "oauth_client_secret"}
)
URL_FORMS = (
    "expected postgresql://user:password@host:5432/dbname (or postgres://) "
    "or key=value pairs like 'host=db port=5432 user=u password=... dbname=x'"
)
_URI_PREFIXES = ("postgresql://", "postgres://")
_SCHEME_RE = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*)://")
_QUOTED_RE = re.compile(r"\"[^\"]*\"|'[^']*'")
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")
_OPTION_NAMES = frozenset(d.keyword.decode() for d in psycopg.pq.Conninfo.get_defaults())


def parse_database_url(url: str) -> dict[str, str]:
    """libpq's own reading (conninfo_to_dict) of a URI or keyword/value string.

    What libpq cannot read, a SQLAlchemy-style `postgresql+psycopg://` URL included
    (it is not accepted: the message says to drop `+psycopg`), raises ConfigError with
    one line that never contains the password.
    """
    text = url.strip()
    scheme = _SCHEME_RE.match(text)
    if scheme and not text.startswith(_URI_PREFIXES):
        name = scheme.group(1)
        base, plus, driver = name.partition("+")
        if base.lower() in ("postgresql", "postgres") and plus:
            raise ConfigError(
                f"ROOMCAL_DATABASE_URL: {name}:// is a SQLAlchemy URL; drop '+{driver}' "
                f"so that it starts with {base.lower()}://"
            )
        if base.lower() in ("postgresql", "postgres"):
            raise ConfigError(
                f"ROOMCAL_DATABASE_URL: write the scheme {name}:// in lower case, {base.lower()}://"
            )
        raise ConfigError(f"ROOMCAL_DATABASE_URL: {name}:// is not a PostgreSQL URL; {URL_FORMS}")
    try:
        params = conninfo_to_dict(text)
    except psycopg.Error as exc:
        reason = _scrub_unreadable(str(exc))
        if reason.startswith("missing ") and "=" in text:  # `password=a b`
            raise ConfigError(
                "ROOMCAL_DATABASE_URL: a word is not key=value; quote a value with spaces, "
                f"password='a b'; {URL_FORMS}"
            ) from None
        if reason.startswith("missing "):  # not a URI, and not key=value pairs either
            raise ConfigError(
                f"ROOMCAL_DATABASE_URL is neither a PostgreSQL URL nor key=value pairs; {URL_FORMS}"
            ) from None
        raise ConfigError(f"ROOMCAL_DATABASE_URL: {reason}; {URL_FORMS}") from None
    if text.startswith(_URI_PREFIXES) and _password_spills(text):
        raise ConfigError(
            "ROOMCAL_DATABASE_URL: percent-encode '@' and '/' in the user name and password "
            "(%40, %2F)"
        )
    if not all(
        p.strip().isdigit() or not p.strip() for p in str(params.get("port", "")).split(",")
    ):
        raise ConfigError("ROOMCAL_DATABASE_URL: the port is not a number")
    return {k: str(v) for k, v in params.items()}


def _userinfo_span(uri: str) -> tuple[int, int | None]:
    """Where libpq's URI parser finds `user[:password]`: from after `://` to the first
    '@' when no '/' comes first. (start, end), end None when there is none."""
    start = uri.index("://") + 3
    end = start
    while end < len(uri) and uri[end] not in "@/":
        end += 1
    return start, (end if end < len(uri) and uri[end] == "@" else None)


def _password_spills(uri: str) -> bool:
    """An '@' after the user info and before the query: an unencoded '@' or '/' in the
    password made libpq read part of it as host, port or database name."""
    start, end = _userinfo_span(uri)
    rest = uri[end + 1 if end is not None else start :]
    return "@" in rest.split("?", 1)[0]


def _uri_password(uri: str) -> str:
    """The password of a URI's user info as written (percent-encoded), or ''."""
    start, end = _userinfo_span(uri)
    userinfo = uri[start:end] if end is not None else ""
    return userinfo.partition(":")[2]


def redact_url(url: str) -> str:
    """The URL with every secret (password and the like) replaced by `***`, for messages.

    URIs keep their form; keyword/value strings are shown as libpq reads them; a string
    that parse_database_url rejects is not shown at all.
    """
    text = url.strip()
    try:
        params = parse_database_url(text)
    except ConfigError:
        return "(an unusable connection string)"
    if text.startswith(_URI_PREFIXES):
        redacted = _redact_uri(text)
        if not _secrets_in(redacted, params, text):
            return _one_line(redacted)
    shown = {k: ("***" if k in SECRET_OPTIONS else v) for k, v in params.items()}
    return _one_line(make_conninfo("", **dict(sorted(shown.items(), key=_written_at(text)))))


def _written_at(text: str):
    """Sort key: where an option is written in a keyword/value string (libpq's own
    order is its table's), so the redacted string reads like the given one."""

    def position(item: tuple[str, str]) -> int:
        found = re.search(rf"(?<![\w.]){re.escape(item[0])}\s*=", text)
        return found.start() if found else len(text)

    return position


def _redact_uri(uri: str) -> str:
    start, end = _userinfo_span(uri)
    if end is not None and ":" in uri[start:end]:
        uri = uri[: uri.index(":", start) + 1] + "***" + uri[end:]
    head, question, query = uri.partition("?")
    if not question:
        return uri
    items = []
    for item in query.split("&"):
        key, eq, _ = item.partition("=")
        items.append(f"{key}=***" if eq and unquote(key) in SECRET_OPTIONS else item)
    return f"{head}?{'&'.join(items)}"


def _secret_values(params: dict, raw: str) -> set[str]:
    """Each secret of a parsed URL, as libpq reads it, percent-encoded and as written."""
    secrets = {str(params.get(k) or "") for k in SECRET_OPTIONS}
    if raw.startswith(_URI_PREFIXES):
        secrets.add(_uri_password(raw))
    secrets |= {quote(s, safe="") for s in secrets}
    return secrets - {""}


def _secrets_in(text: str, params: dict, raw: str) -> bool:
    return any(secret in text for secret in _secret_values(params, raw))


def database_error_line(exc: BaseException, url: str | None) -> str:
    """One line of a psycopg (or any) error met with `url`, none of its secrets in it."""
    lines = [line.strip() for line in str(exc).strip().splitlines() if line.strip()]
    if not lines:
        return type(exc).__name__
    line = lines[0]
    if line.endswith(":") and len(lines) > 1:  # "... All failures were:" and one line each
        line = f"{line} {'; '.join(lines[1:])}"
    return scrub_secrets(line, url)


def scrub_secrets(text: str, url: str | None) -> str:
    """`text`, one line, with `url` redacted and each of its secrets replaced by `***`.
    When `url` is unusable its secrets are unknown: every quoted fragment goes."""
    if not url:
        return _one_line(text)
    raw = url.strip()
    try:
        params = parse_database_url(raw)
    except ConfigError:
        return _one_line(_QUOTED_RE.sub(_keep_option_name, text.replace(raw, "(the URL)")))
    text = text.replace(raw, redact_url(raw))
    for secret in sorted(_secret_values(params, raw), key=len, reverse=True):
        text = text.replace(secret, "***")
    return _one_line(text)


def _scrub_unreadable(message: str) -> str:
    """libpq's complaint about a string it cannot read, without the quoted fragments of
    that string (any of them may be part of the password)."""
    lines = message.strip().splitlines()
    first = lines[0].removesuffix(" in connection info string") if lines else "unreadable"
    return _one_line(_QUOTED_RE.sub(_keep_option_name, first))


def _keep_option_name(match: re.Match) -> str:
    inner = match.group()[1:-1]
    keep = inner in _OPTION_NAMES or (len(inner) == 1 and not inner.isalnum())
    return match.group() if keep else '"..."'


def _one_line(text: str) -> str:
    """Control characters (a newline in the URL) escaped: a message stays one line."""
    return _CONTROL_RE.sub(lambda m: repr(m.group())[1:-1], text)


def dbt_connection_env(url: str) -> dict[str, str]:
    """The `ROOMCAL_DB_*` variables that dbt_project/profiles.yml reads, from a libpq URL
    or keyword/value string (libpq's own parser, so both forms mean the same as for psycopg)."""
    params = parse_database_url(url)
    return {
        "ROOMCAL_DB_HOST": str(params.get("host") or "localhost").split(",")[0],
        "ROOMCAL_DB_PORT": str(params.get("port") or 5432).split(",")[0],
        "ROOMCAL_DB_USER": str(params.get("user") or "postgres"),
        "ROOMCAL_DB_PASSWORD": str(params.get("password") or ""),
        "ROOMCAL_DB_NAME": str(params.get("dbname") or params.get("user") or "postgres"),
        "ROOMCAL_DB_SSLMODE": str(params.get("sslmode") or "prefer"),
    }
