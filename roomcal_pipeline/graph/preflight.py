"""Checks before any work: the room selection, and Graph with one cheap request.

The preflight asks Graph for one registered room's calendar over a one-minute window
(`GET {base}/users/{room}/calendarView?...&$top=1&$select=id`: only the app's
Calendars.Read is needed), with a short timeout and a single retry. A configuration
mistake then ends in seconds with one line naming ROOMCAL_GRAPH_BASE_URL and the cause,
instead of every room retrying for minutes:

- Graph unreachable (connection refused, DNS, TLS, no answer);
- the credential rejected (a 401, or azure-identity cannot get a token);
- the permission missing (a 403 for every room tried, at least two, none of them from an
  application access policy, which is about one mailbox);
- something that is not Graph answering (a non-Graph body, or a 400 for every room tried).

A 404 or 403 of one room is that room's problem (it ends as mailbox_not_found or
access_denied like in any run): the next registered room is tried, up to three. A 429
or 5xx proves nothing either way, and the run goes on (the extraction retries properly).

`systemic_failure` is the same verdict after a run: every room that could be tried
failed for one systemic reason (auth_failed, or transport errors).

No I/O and no environment read at import.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import re
import socket
import ssl
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

from roomcal_pipeline.config.settings import ConfigError, Settings
from roomcal_pipeline.graph.errors import AUTH_FAILED, ERROR, GraphRequestError, scrub

PREFLIGHT_TIMEOUT_SECONDS = 5.0  # per attempt of the one request
TOKEN_TIMEOUT_SECONDS = 10.0  # azure-identity's own token request, with its retries
PREFLIGHT_ROOMS = 3  # rooms tried when one answers 403/404/400
GRAPH_ROOT_EXAMPLE = "https://graph.microsoft.com/v1.0"
_MAX_GRAPH_MESSAGE = 160
_AADSTS = re.compile(r"(AADSTS\d+)\s*:?\s*([^\r\n]*)")
_ACCESS_POLICY = re.compile(r"AccessPolicy|\[RAOP\]", re.IGNORECASE)


class GraphPreflightError(GraphRequestError, ConfigError):
    """Graph cannot be used at all: unreachable, credential rejected, permission missing.

    A ConfigError (the CLI prints it as one line and exits 2) and a GraphRequestError
    (code that tolerates Graph failures, like room discovery, treats it as one)."""

    def __init__(self, line: str, status: int | None = None, code: str | None = None) -> None:
        self.line = line
        super().__init__(status, code or "preflight_failed", line)

    @property
    def detail(self) -> str:
        return self.line


# ---------------------------------------------------------------- the room selection


def selection_problem(
    selection: Sequence[str] | None,
    rooms: Iterable[Any],
    what: str,
    empty: str = "the room registry (ROOMCAL_ROOMS_FILE) lists no room: add one row per room "
    "under its header row",
) -> str | None:
    """One line when `selection` (emails or registry keys) names rooms that are not among
    `rooms` (registry rooms, with `key` and `email`), or, without a selection, when there
    is no room at all (`empty`); None when the selection is fine. `what` names the
    selection in the message (`--rooms`)."""
    rooms = list(rooms)
    known = {r.key.lower() for r in rooms} | {r.email.lower() for r in rooms if r.email}
    unknown = [s for s in selection or () if s.strip().lower() not in known]
    if unknown:
        shown = ", ".join(unknown[:5]) + (
            f" and {len(unknown) - 5} more" if len(unknown) > 5 else ""
        )
        return (
            f"{what} names {len(unknown)} room(s) not in the room registry "
            f"(ROOMCAL_ROOMS_FILE): {shown}"
        )
    return None if rooms else empty


# ---------------------------------------------------------------- messages


def display_url(url: str) -> str:
    """The URL as it may be shown: no user info, query or fragment."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return url.split("?")[0]
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    try:
        port = parts.port
    except ValueError:
        port = None
    netloc = host + (f":{port}" if port else "")
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def _secret_name(settings: Settings) -> str:
    if settings.client_secret or not settings.client_certificate_path:
        return "AZURE_CLIENT_SECRET"
    return "AZURE_CLIENT_CERTIFICATE_PATH"


def credential_hint(settings: Settings) -> str:
    """What to fix when Graph rejects the credential: the fixed token, or the app's settings
    (a fixed token is never talked about as AZURE_*)."""
    if settings.graph_token:
        return "set a valid, unexpired token in ROOMCAL_GRAPH_TOKEN"
    return (
        f"check AZURE_TENANT_ID, AZURE_CLIENT_ID and {_secret_name(settings)} "
        "(the app registration and its tenant)"
    )


def _first_sentence(text: str) -> str:
    """The first sentence of the first non-blank line, scrubbed and bounded."""
    line = next((part.strip() for part in text.splitlines() if part.strip()), "")
    sentence = line.split(". ")[0].rstrip(".")
    return scrub(sentence)[:_MAX_GRAPH_MESSAGE]


def _credential_name(settings: Settings) -> str:
    return "the token in ROOMCAL_GRAPH_TOKEN" if settings.graph_token else "the app's token"


def _graph_said(status: int | None, code: str | None, message: str | None) -> str:
    text = scrub(message)
    if len(text) > _MAX_GRAPH_MESSAGE:
        text = text[: _MAX_GRAPH_MESSAGE - 1] + "…"
    head = " ".join(p for p in (f"HTTP {status}" if status else "", code or "") if p)
    return f"{head}: {text}" if text else head


def transport_cause(exc: BaseException, timeout: float = PREFLIGHT_TIMEOUT_SECONDS) -> str:
    """A transport failure in a few words: connection refused, DNS, TLS, timeout."""
    import httpx

    seen: set[int] = set()
    chain: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        chain.append(current)
        current = (
            current.__cause__ or current.__context__ or getattr(current, "inner_exception", None)
        )
    for e in chain:
        if isinstance(e, httpx.TimeoutException | asyncio.TimeoutError | TimeoutError):
            return f"no answer within {timeout:g} s"
        if isinstance(e, ssl.SSLCertVerificationError):
            return f"TLS certificate not trusted ({e.verify_message or e.reason})"
        if isinstance(e, ssl.SSLError):
            return f"TLS error ({e.reason or type(e).__name__})"
        if isinstance(e, socket.gaierror):
            return "host name not found (DNS)"
        if isinstance(e, ConnectionRefusedError) or (
            isinstance(e, OSError) and e.errno == errno.ECONNREFUSED
        ):
            return "connection refused"
        if isinstance(e, OSError) and e.errno in (errno.EHOSTUNREACH, errno.ENETUNREACH):
            return "network unreachable"
        if isinstance(e, ConnectionResetError):
            return "connection reset"
    text = " ".join(str(exc).split())
    lowered = text.lower()
    if "connection refused" in lowered or "connect call failed" in lowered:
        return "connection refused"
    if "name or service not known" in lowered or "nodename nor servname" in lowered:
        return "host name not found (DNS)"
    if "certificate" in lowered or "ssl" in lowered:
        return f"TLS error ({scrub(text)[:120]})"
    if isinstance(exc, httpx.RemoteProtocolError):
        return "the server closed the connection without an HTTP answer"
    return f"{type(exc).__name__}: {scrub(text)[:120]}" if text else type(exc).__name__


def _unreachable(url: str, cause: str) -> GraphPreflightError:
    return GraphPreflightError(
        f"Microsoft Graph is unreachable at {url} (ROOMCAL_GRAPH_BASE_URL): {cause}",
        code="unreachable",
    )


# ---------------------------------------------------------------- the probe


@dataclass
class _Answer:
    kind: str  # ok | unauthorized | forbidden | not_found | bad_request | not_graph | unsure
    status: int | None = None
    code: str | None = None
    message: str | None = None


def _classify(status: int, content_type: str, body: bytes) -> _Answer:
    import orjson

    try:
        parsed = orjson.loads(body) if body else None
    except orjson.JSONDecodeError:
        parsed = None
    if 200 <= status < 300:
        if isinstance(parsed, dict) and isinstance(parsed.get("value"), list):
            return _Answer("ok", status)
        kind = (content_type.split(";")[0].strip() or "no content type")[:60]
        return _Answer("not_graph", status, message=f"a {kind} body, not a Graph collection")
    error = parsed.get("error") if isinstance(parsed, dict) else None
    code = error.get("code") if isinstance(error, dict) else None
    message = error.get("message") if isinstance(error, dict) else None
    code = code if isinstance(code, str) else None
    message = message if isinstance(message, str) else None
    if status == 401:
        return _Answer("unauthorized", status, code, message)
    if status == 429 or status >= 500:
        return _Answer("unsure", status, code, message)
    if code is None and message is None:
        kind = (content_type.split(";")[0].strip() or "no content type")[:60]
        what = f"a {kind} body" if body else "an empty body"
        return _Answer("not_graph", status, message=f"{what}, not a Graph error")
    if status == 403:
        return _Answer("forbidden", status, code, message)
    if status == 404:
        return _Answer("not_found", status, code, message)
    if status == 400:
        return _Answer("bad_request", status, code, message)
    return _Answer("unsure", status, code, message)


def _calendar_probe_url(base: str, email: str) -> str:
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    fmt = "%Y-%m-%dT%H:%M:%SZ"
    return (
        f"{base}/users/{quote(email, safe='@')}/calendarView"
        f"?startDateTime={now.strftime(fmt)}&endDateTime={(now + timedelta(minutes=1)).strftime(fmt)}"
        "&$top=1&$select=id"
    )


async def _token(credential: Any, scope: str, settings: Settings, url: str) -> str:
    """A bearer token, or GraphPreflightError naming what to fix."""
    # azure-identity logs each failed token request as a warning of its own: the one line
    # below says it, so the warning is held back while the preflight asks.
    identity_log = logging.getLogger("azure.identity")
    level = identity_log.level
    identity_log.setLevel(logging.CRITICAL)
    try:
        token = await asyncio.wait_for(
            credential.get_token(scope, enable_cae=True), TOKEN_TIMEOUT_SECONDS
        )
        return token.token
    except TimeoutError:
        raise GraphPreflightError(
            f"cannot get a token for Graph at {url}: the token endpoint gave no answer within "
            f"{TOKEN_TIMEOUT_SECONDS:g} s (check the network, a proxy, or AZURE_AUTHORITY_HOST)",
            code="token_timeout",
        ) from None
    except Exception as exc:  # azure-identity: ClientAuthenticationError, ValueError, ...
        from azure.core.exceptions import ServiceRequestError, ServiceResponseError

        transport = exc
        while transport is not None and not isinstance(
            transport, ServiceRequestError | ServiceResponseError | OSError
        ):
            transport = transport.__cause__ or getattr(transport, "inner_exception", None)
        if transport is not None:
            raise GraphPreflightError(
                f"cannot get a token for Graph at {url}: the token endpoint is unreachable: "
                f"{transport_cause(transport, TOKEN_TIMEOUT_SECONDS)} (check the network, a "
                "proxy, or AZURE_AUTHORITY_HOST)",
                code="token_unreachable",
            ) from None
        text = str(exc)
        found = _AADSTS.search(text)
        if found:
            said = f"{found.group(1)}: {_first_sentence(found.group(2))}"
        else:
            first = _first_sentence(text)
            said = f"{type(exc).__name__}: {first}" if first else type(exc).__name__
        raise GraphPreflightError(
            f"cannot get a token for Graph at {url}: {said}: {credential_hint(settings)}",
            status=401,
            code="token_rejected",
        ) from None
    finally:
        identity_log.setLevel(level)


def _base(settings: Settings) -> tuple[str, str, str]:
    """(base URL, URL to show, token scope); GraphPreflightError for a URL that is not one."""
    base = settings.graph_base_url.rstrip("/")
    url = display_url(base)
    parts = urlsplit(base)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise GraphPreflightError(
            f"ROOMCAL_GRAPH_BASE_URL {url!r} is not an http(s) URL: set it to the Graph root, "
            f"like {GRAPH_ROOT_EXAMPLE}",
            code="bad_url",
        )
    host = parts.hostname if ":" not in parts.hostname else f"[{parts.hostname}]"
    return base, url, f"{parts.scheme}://{host}/.default"  # kiota's default scope


async def _ask_with_token(http, probe_url, credential, token, scope, settings, url, timeout):
    """(answer, token): a 401 with an azure-identity credential gets one new token, like
    the extraction (its cache may hold a token Graph no longer takes)."""
    answer = await _ask(http, probe_url, token, url, timeout)
    if answer.kind == "unauthorized" and hasattr(credential, "invalidate"):
        await credential.invalidate(token)
        token = await _token(credential, scope, settings, url)
        answer = await _ask(http, probe_url, token, url, timeout)
    return answer, token


def _raise_if_systemic(answer: _Answer, settings: Settings, url: str) -> None:
    """A 401, or an answer that is not Graph's, whatever the room: one line."""
    if answer.kind == "unauthorized":
        said = _graph_said(answer.status, answer.code, answer.message)
        raise GraphPreflightError(
            f"Graph at {url} rejected {_credential_name(settings)} ({said}): "
            f"{credential_hint(settings)}",
            401,
            answer.code or "unauthorized",
        )
    if answer.kind == "not_graph":
        raise GraphPreflightError(
            f"{url} (ROOMCAL_GRAPH_BASE_URL) does not answer like Microsoft Graph "
            f"(HTTP {answer.status}, {answer.message}): set it to the Graph root, "
            f"like {GRAPH_ROOT_EXAMPLE}",
            answer.status,
            "not_graph",
        )


async def check_graph(
    settings: Settings,
    emails: Sequence[str],
    credential: Any,
    *,
    timeout_seconds: float = PREFLIGHT_TIMEOUT_SECONDS,
    rooms_to_try: int = PREFLIGHT_ROOMS,
) -> None:
    """The Graph preflight with `credential`: returns when Graph looks usable, or raises
    GraphPreflightError with one line. `emails` are registered room emails, the first
    tried first; without any, there is nothing to ask Graph about and nothing is asked."""
    import httpx

    base, url, scope = _base(settings)
    emails = [e for e in emails if e][:rooms_to_try]
    if not emails:
        return
    token = await _token(credential, scope, settings, url)
    answers: list[tuple[str, _Answer]] = []
    async with httpx.AsyncClient(
        timeout=httpx.Timeout(timeout_seconds), follow_redirects=False, http2=False
    ) as http:
        for email in emails:
            answer, token = await _ask_with_token(
                http,
                _calendar_probe_url(base, email),
                credential,
                token,
                scope,
                settings,
                url,
                timeout_seconds,
            )
            if answer.kind in ("ok", "unsure"):
                return
            _raise_if_systemic(answer, settings, url)
            answers.append((email, answer))
    _judge_room_answers(answers, settings, url)


async def check_endpoint(
    settings: Settings, credential: Any, *, timeout_seconds: float = PREFLIGHT_TIMEOUT_SECONDS
) -> None:
    """The light preflight, for steps that know no room: the endpoint answers like Graph and
    takes the credential (`GET {base}/places/microsoft.graph.room?$top=1`; a 403 there only
    means no Place.Read.All, which proves nothing about calendars)."""
    import httpx

    base, url, scope = _base(settings)
    token = await _token(credential, scope, settings, url)
    async with httpx.AsyncClient(
        timeout=httpx.Timeout(timeout_seconds), follow_redirects=False, http2=False
    ) as http:
        answer, _ = await _ask_with_token(
            http,
            f"{base}/places/microsoft.graph.room?$top=1",
            credential,
            token,
            scope,
            settings,
            url,
            timeout_seconds,
        )
    _raise_if_systemic(answer, settings, url)


def _judge_room_answers(answers: list[tuple[str, _Answer]], settings: Settings, url: str) -> None:
    """Every room tried answered 403, 404 or 400: systemic, or each room's own problem?"""
    kinds = {a.kind for _, a in answers}
    if len(kinds) != 1:
        return
    kind = kinds.pop()
    first = answers[0][1]
    tried = ", ".join(email for email, _ in answers)
    said = _graph_said(first.status, first.code, first.message)
    if kind == "bad_request":
        raise GraphPreflightError(
            f"Graph at {url} rejected the request ({said}; rooms tried: {tried}): "
            f"ROOMCAL_GRAPH_BASE_URL must be the Graph root with its version, like "
            f"{GRAPH_ROOT_EXAMPLE}",
            400,
            first.code,
        )
    if kind != "forbidden":
        return  # mailboxes not found: each room says so in its own result
    if len(answers) < 2 or any(_ACCESS_POLICY.search(a.message or "") for _, a in answers):
        # One room's 403 is that room's problem, and so is a mailbox an application access
        # policy leaves out (the app may be meant to read only some rooms): each room ends
        # as access_denied in its own result.
        return
    if settings.graph_token:
        fix = "the token in ROOMCAL_GRAPH_TOKEN lacks the application permission Calendars.Read"
    else:
        fix = (
            "grant the app (AZURE_CLIENT_ID) the application permission Calendars.Read, "
            "with admin consent"
        )
    raise GraphPreflightError(
        f"Graph at {url} denied access to room calendars ({said}; rooms tried: {tried}): {fix}",
        403,
        first.code,
    )


async def _ask(http, probe_url: str, token: str, url: str, timeout: float) -> _Answer:
    """One GET, retried once after a transport failure, a 429 or a 5xx."""
    import httpx

    headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
    for attempt in (1, 2):
        try:
            response = await http.get(probe_url, headers=headers)
        except httpx.UnsupportedProtocol:
            raise GraphPreflightError(
                f"ROOMCAL_GRAPH_BASE_URL {url!r} is not an http(s) URL: set it to the Graph "
                f"root, like {GRAPH_ROOT_EXAMPLE}",
                code="bad_url",
            ) from None
        except (httpx.TransportError, OSError) as exc:
            if attempt == 2:
                raise _unreachable(url, transport_cause(exc, timeout)) from None
            await asyncio.sleep(0.5)
            continue
        answer = _classify(
            response.status_code, response.headers.get("content-type", ""), response.content
        )
        if answer.kind != "unsure" or attempt == 2:
            return answer
        retry_after = response.headers.get("retry-after", "")
        await asyncio.sleep(min(2.0, float(retry_after)) if retry_after.isdigit() else 0.5)
    raise AssertionError("unreachable")  # pragma: no cover


def preflight_graph(settings: Settings, emails: Sequence[str], **options: Any) -> None:
    """`check_graph` with a credential of its own, for callers without an event loop
    (the CLI). Raises GraphPreflightError (a ConfigError) with one line."""

    async def run() -> None:
        credential = build_credential(settings)
        try:
            await check_graph(settings, emails, credential, **options)
        finally:
            close = getattr(credential, "close", None)
            if close is not None:
                await close()

    asyncio.run(run())


def build_credential(settings: Settings) -> Any:
    """credential_from_settings, with a failure to build one as GraphPreflightError (one
    line): credentials missing, an unreadable certificate, a malformed tenant id."""
    from roomcal_pipeline.graph.credentials import credential_from_settings

    try:
        return credential_from_settings(settings)
    except ConfigError as exc:
        raise GraphPreflightError(str(exc), code="credential_missing") from None
    except Exception as exc:  # e.g. an unreadable certificate, a malformed tenant id
        first = _first_sentence(str(exc))
        raise GraphPreflightError(
            f"cannot build the Graph credential: {type(exc).__name__}: {first}: "
            f"{credential_hint(settings)}",
            code="credential_invalid",
        ) from None


# ---------------------------------------------------------------- after a run


def _is_transport(result: Any) -> bool:
    return result.reason == ERROR and "transport failure" in (result.detail or "")


def systemic_failure(results: Sequence[Any], settings: Settings) -> str | None:
    """One line when every room that could be tried (those with an email) failed for the
    same systemic reason: the credential (auth_failed) or the transport; else None."""
    tried = [r for r in results if r.room_email]
    if not tried or any(r.status == "synced" for r in tried):
        return None
    url = display_url(settings.graph_base_url)
    first = tried[0].detail or ""
    if all(r.reason == AUTH_FAILED for r in tried):
        return (
            f"Graph at {url} rejected {_credential_name(settings)} for every room tried "
            f"({len(tried)} rooms, auth_failed: {scrub(first)[:_MAX_GRAPH_MESSAGE]}): "
            f"{credential_hint(settings)}"
        )
    if all(_is_transport(r) for r in tried):
        return (
            f"Microsoft Graph was unreachable at {url} (ROOMCAL_GRAPH_BASE_URL) for every room "
            f"tried ({len(tried)} rooms, {scrub(first)[:_MAX_GRAPH_MESSAGE]}): nothing was synced"
        )
    return None
