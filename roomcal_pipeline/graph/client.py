"""Where an event enters roomcal: msgraph-sdk against Graph (or the simulated tenant).

msgraph-sdk builds the requests and runs its authentication, redirect and
header middleware; pages come back as raw bytes (`send_primitive_async(...,
"bytes", ...)`) and are parsed with orjson, then every event goes straight
through the privacy allowlist. The SDK's typed `Event` models cost milliseconds
of CPU per event (benchmarks/README.md), so they are never built.

Retries are ours, not kiota's RetryHandler: that handler ignores fractional
`Retry-After` values, gives up on any over 180 s, and does not retry 500, 502,
connection resets or truncated bodies. It is switched off per request, and
`_send` below retries all of those, honours every `Retry-After` form, and counts
what it waited.
"""

from __future__ import annotations

import asyncio
import random
import re
from collections import defaultdict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import quote, urlparse

import httpx
import orjson
from kiota_abstractions.api_error import APIError
from kiota_abstractions.base_request_configuration import RequestConfiguration
from kiota_abstractions.method import Method
from kiota_abstractions.request_information import RequestInformation
from kiota_abstractions.response_handler import ResponseHandler
from kiota_authentication_azure.azure_identity_authentication_provider import (
    AzureIdentityAuthenticationProvider,
)
from kiota_http.middleware.options import ResponseHandlerOption, RetryHandlerOption
from msgraph import GraphRequestAdapter, GraphServiceClient
from msgraph.generated.models.o_data_errors.o_data_error import ODataError
from msgraph.generated.places.graph_room.graph_room_request_builder import GraphRoomRequestBuilder
from msgraph.generated.users.item.calendar_view.calendar_view_request_builder import (
    CalendarViewRequestBuilder,
)
from msgraph.generated.users.item.calendar_view.delta.delta_request_builder import (
    DeltaRequestBuilder,
)
from msgraph_core import GraphClientFactory

from roomcal_pipeline.graph.errors import GraphRequestError
from roomcal_pipeline.graph.parse import format_graph_datetime
from roomcal_pipeline.privacy import GRAPH_SELECT_FIELDS, filter_event

GRAPH_MAILBOX_CONCURRENCY = 4  # Graph's limit of concurrent requests per mailbox
_RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
_ERROR_MAP = {"XXX": ODataError}
_NO_KIOTA_RETRY = RetryHandlerOption(delay=0, max_retries=0, should_retry=False)


@dataclass
class RequestStats:
    """What Graph cost: requests, retries and waits, per mailbox and in total."""

    requests: int = 0
    retries: int = 0
    throttled: int = 0
    throttle_wait_seconds: float = 0.0

    def add(self, other: RequestStats) -> None:
        self.requests += other.requests
        self.retries += other.retries
        self.throttled += other.throttled
        self.throttle_wait_seconds += other.throttle_wait_seconds


@dataclass
class RetryPolicy:
    max_attempts: int = 8
    backoff_base_seconds: float = 1.0
    backoff_max_seconds: float = 60.0
    max_retry_after_seconds: float = 600.0  # a longer Retry-After ends the request as throttled


@dataclass
class DirectoryEntry:
    status: str  # found | not_found | forbidden | error
    department: str | None = None
    via: str | None = None  # how a found entry was resolved: upn | mail | proxy


@dataclass
class _Failure:
    status: int | None
    code: str | None
    message: str | None
    retry_after: float | None = None


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a `Retry-After` header: integer, fractional, or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        now = now or datetime.now(when.tzinfo)
        seconds = (when - now).total_seconds()
    return max(0.0, seconds) if seconds == seconds else None  # NaN guard


class GraphClient:
    """An async Graph client for room calendars. Use as `async with GraphClient(...)`."""

    def __init__(
        self,
        base_url: str,
        credential: Any,
        *,
        page_size: int = 500,
        max_concurrency: int = 16,
        per_mailbox: int = GRAPH_MAILBOX_CONCURRENCY,
        retry: RetryPolicy | None = None,
        timeout_seconds: float = 60.0,
    ) -> None:
        if per_mailbox > GRAPH_MAILBOX_CONCURRENCY:
            raise ValueError(
                f"Graph allows at most {GRAPH_MAILBOX_CONCURRENCY} requests per mailbox"
            )
        self.base_url = base_url.rstrip("/")
        self.page_size = page_size
        self.retry = retry or RetryPolicy()
        self.stats: dict[str, RequestStats] = defaultdict(RequestStats)
        self._credential = credential
        self._global = asyncio.Semaphore(max_concurrency)
        self._per_mailbox = per_mailbox
        self._mailbox_slots: dict[str, asyncio.Semaphore] = {}
        self._timeout = timeout_seconds
        self._max_connections = max_concurrency
        self._http: httpx.AsyncClient | None = None
        self._graph: GraphServiceClient | None = None
        self.directory_batches = 0  # `POST /$batch` requests sent for directory lookups
        self._directory_forbidden = False

    async def __aenter__(self) -> GraphClient:
        host = urlparse(self.base_url).hostname or ""
        auth = AzureIdentityAuthenticationProvider(self._credential, allowed_hosts=[host])
        self._http = GraphClientFactory.create_with_default_middleware(
            client=httpx.AsyncClient(
                timeout=httpx.Timeout(self._timeout),
                limits=httpx.Limits(max_connections=self._max_connections),
                http2=False,
            )
        )
        adapter = GraphRequestAdapter(auth, client=self._http)
        adapter.base_url = self.base_url
        self._graph = GraphServiceClient(request_adapter=adapter)
        return self

    async def __aexit__(self, *exc) -> None:
        if self._http is not None:
            await self._http.aclose()
        close = getattr(self._credential, "close", None)
        if close is not None:
            await close()

    @property
    def graph(self) -> GraphServiceClient:
        if self._graph is None:
            raise RuntimeError("use GraphClient inside `async with`")
        return self._graph

    @asynccontextmanager
    async def _slot(self, mailbox: str):
        slot = self._mailbox_slots.get(mailbox)
        if slot is None:
            slot = self._mailbox_slots[mailbox] = asyncio.Semaphore(self._per_mailbox)
        async with slot, self._global:
            yield

    async def _send(self, mailbox: str, request: RequestInformation) -> dict[str, Any]:
        """One Graph request with retries; returns the parsed JSON body.

        The retry decision rests on the HTTP status alone, never on the body: gateways in
        front of Graph answer 502/503/504 (and sometimes 500) with an HTML page, plain text
        or nothing at all, and Graph's own errors are JSON. 429 and 5xx are retried with
        backoff, and so are resets, timeouts and truncated bodies; other 4xx are final, but
        a 401 first gets one new token. An error's message is built from the status and
        Graph's error code and message only, never from the body of a response.
        """
        request.add_request_options([_NO_KIOTA_RETRY, _RAW_RESPONSE])
        # kiota expands the URI template (percent-encoding all of $select) each time `url`
        # is read, three times per request: expand it once, with the base URL, and keep it.
        request.path_parameters["baseurl"] = self.base_url
        request.url = request.url
        stats = self.stats[mailbox]
        attempt = 0
        refreshed = False
        while True:
            attempt += 1
            if attempt > 1:
                # kiota authenticates only a request without this header: drop the token of
                # the last attempt so a retry after a long wait or a 401 gets a current one.
                request.headers.remove("Authorization")
            failure: _Failure
            async with self._slot(mailbox):
                stats.requests += 1
                try:
                    response = await self.graph.request_adapter.send_primitive_async(
                        request, "bytes", _ERROR_MAP
                    )
                    if response.is_success:
                        body = response.content
                        return orjson.loads(body) if body else {}
                    failure = _response_failure(response)
                except APIError as exc:
                    failure = _api_failure(exc)
                except (httpx.TransportError, orjson.JSONDecodeError) as exc:
                    # Resets, timeouts and truncated bodies: worth another try.
                    failure = _Failure(
                        None, type(exc).__name__, "transport failure or truncated body"
                    )
                except Exception as exc:
                    transient = _transient_failure(exc)
                    if transient is not None:
                        failure = transient
                    elif _is_auth_error(exc):
                        raise GraphRequestError(
                            401, "AuthenticationFailed", type(exc).__name__, attempt - 1
                        ) from None
                    else:
                        raise
            if failure.status == 401 and not refreshed and hasattr(self._credential, "invalidate"):
                # An expired or revoked token: get a new one once, then retry at once.
                refreshed = True
                await self._credential.invalidate(_bearer_token(request))
                stats.retries += 1
                continue
            retryable = failure.status is None or failure.status in _RETRY_STATUSES
            if not retryable or attempt >= self.retry.max_attempts:
                raise GraphRequestError(failure.status, failure.code, failure.message, attempt - 1)
            delay = failure.retry_after
            if delay is None:
                delay = min(
                    self.retry.backoff_max_seconds,
                    self.retry.backoff_base_seconds * 2 ** (attempt - 1) * (0.5 + random.random()),
                )
            elif delay > self.retry.max_retry_after_seconds:
                raise GraphRequestError(failure.status, failure.code, failure.message, attempt - 1)
            stats.retries += 1
            if failure.status == 429:
                stats.throttled += 1
                stats.throttle_wait_seconds += delay
            await asyncio.sleep(delay)

    def _page_size_config(self, query_parameters=None) -> RequestConfiguration:
        config = RequestConfiguration(query_parameters=query_parameters)
        config.headers.add("Prefer", f"odata.maxpagesize={self.page_size}")
        return config

    async def _pages(
        self, mailbox: str, builder, request: RequestInformation
    ) -> AsyncIterator[dict[str, Any]]:
        """Raw pages of one Graph collection, following @odata.nextLink to the last page."""
        while True:
            page = await self._send(mailbox, request)
            yield page
            next_link = page.get("@odata.nextLink")
            if not next_link:
                return
            request = builder.with_url(next_link).to_get_request_information(
                self._page_size_config()
            )

    async def calendar_view(
        self, mailbox: str, start: datetime, end: datetime
    ) -> AsyncIterator[list[dict[str, Any]]]:
        """Allowlisted events of one mailbox overlapping [start, end), page by page."""
        params = CalendarViewRequestBuilder.CalendarViewRequestBuilderGetQueryParameters(
            start_date_time=format_graph_datetime(start),
            end_date_time=format_graph_datetime(end),
            select=list(GRAPH_SELECT_FIELDS),
        )
        builder = self.graph.users.by_user_id(mailbox).calendar_view
        request = builder.to_get_request_information(self._page_size_config(params))
        async for page in self._pages(mailbox, builder, request):
            values = page.get("value")
            yield [filter_event(e) for e in values if isinstance(e, dict)] if values else []

    async def calendar_view_delta(
        self, mailbox: str, start: datetime, end: datetime, delta_link: str | None = None
    ) -> AsyncIterator[tuple[list[dict[str, Any]], str | None]]:
        """One delta round: (allowlisted events, None) per page, the last with its deltaLink.

        Without `delta_link` the round reads the whole window; with it, only changes since.
        Delta ignores `$select`, so the allowlist here is the only filter. Pages may be
        empty and still carry a nextLink.
        """
        builder = self.graph.users.by_user_id(mailbox).calendar_view.delta
        if delta_link:
            request = builder.with_url(delta_link).to_get_request_information(
                self._page_size_config()
            )
        else:
            params = DeltaRequestBuilder.DeltaRequestBuilderGetQueryParameters(
                start_date_time=format_graph_datetime(start),
                end_date_time=format_graph_datetime(end),
            )
            request = builder.to_get_request_information(self._page_size_config(params))
        async for page in self._pages(mailbox, builder, request):
            events = [filter_event(e) for e in page.get("value") or [] if isinstance(e, dict)]
            if page.get("@odata.nextLink"):
                yield events, None
            elif page.get("@odata.deltaLink"):
                yield events, page["@odata.deltaLink"]
            else:
                raise GraphRequestError(
                    None, "MissingDeltaLink", "delta round ended without a deltaLink"
                )

    async def list_rooms(self, page_size: int = 100) -> AsyncIterator[dict[str, Any]]:
        """Every room of the tenant (places API). Graph returns no next link there, so
        pages are read with $top/$skip until one comes back short."""
        skip = 0
        while True:
            params = GraphRoomRequestBuilder.GraphRoomRequestBuilderGetQueryParameters(
                top=page_size,
                skip=skip,
                select=["emailAddress", "displayName", "capacity", "building", "floorNumber"],
            )
            request = self.graph.places.graph_room.to_get_request_information(
                RequestConfiguration(query_parameters=params)
            )
            page = (await self._send("places", request)).get("value") or []
            for room in page:
                if isinstance(room, dict) and isinstance(room.get("emailAddress"), str):
                    yield {
                        "email": room["emailAddress"].lower(),
                        "display_name": room.get("displayName"),
                        "capacity": room.get("capacity"),
                        "building": room.get("building"),
                        "floor_number": room.get("floorNumber"),
                    }
            if len(page) < page_size:
                return
            skip += page_size

    async def department(self, address: str) -> DirectoryEntry:
        """An organizer's department from the directory (docs/metrics.md)."""
        return (await self.departments([address]))[address]

    async def departments(self, addresses: list[str]) -> dict[str, DirectoryEntry]:
        """Departments of many SMTP addresses, resolved the way Exchange does.

        Graph's `GET /users/{id | userPrincipalName}` misses everyone whose UPN is not their
        address (https://learn.microsoft.com/graph/api/user-get), so each lookup is one
        `GET /users?$filter=userPrincipalName in (...) or mail in (...) or
        proxyAddresses/any(p:p eq 'smtp:...') ...` over a few addresses, and the answer is
        matched here in Exchange's order: UPN first, then mail, then an `smtp:` proxy
        address (case-insensitive). Nobody matching means outside the directory
        (external). A default (not advanced) query allows 15 OR clauses
        (microsoftgraph/microsoft-graph-docs issue 21098: "Too many child clauses ...
        Max allowed: 15"), so one lookup covers 5 addresses x 3 clauses, and a `POST
        /$batch` of 20 lookups covers 100 addresses
        (https://learn.microsoft.com/graph/json-batching): 1,000 organizers cost 10
        requests. A 403 anywhere means the app lacks User.Read.All for every user: nobody
        else is asked. A lookup answering 429 or 5xx is sent again (in a later batch)
        within the run; one that still fails is `error` and retried on the next run.
        """
        unique = list(dict.fromkeys(addresses))
        groups = [
            unique[i : i + _ADDRESSES_PER_LOOKUP]
            for i in range(0, len(unique), _ADDRESSES_PER_LOOKUP)
        ]
        self._directory_forbidden = False
        answers = await self._batched(
            [(str(i), _directory_filter_url(group), None) for i, group in enumerate(groups)]
        )
        results: dict[str, DirectoryEntry] = {}
        for i, group in enumerate(groups):
            status, body = answers[str(i)]
            users = body.get("value") if status == 200 else None
            if status != 200 or not isinstance(users, list):
                results.update({address: _failed_entry(status) for address in group})
                continue
            users = [u for u in users if isinstance(u, dict)]
            results.update({address: _match(address, users) for address in group})
        if self._directory_forbidden:  # answers before the first 403 stand; the rest cannot
            for address, entry in results.items():
                if entry.status != "found":
                    results[address] = DirectoryEntry("forbidden")
        return results

    async def _batched(
        self, lookups: list[tuple[str, str, dict | None]]
    ) -> dict[str, tuple[int | None, dict]]:
        """Status and body of each lookup (key, relative url, headers), through `$batch`.

        The first batch goes alone, so a directory answering 403 costs one request; the
        rest run concurrently (bounded by the client's slots for "directory")."""
        chunks = [lookups[i : i + _BATCH_MAX] for i in range(0, len(lookups), _BATCH_MAX)]
        out: dict[str, tuple[int | None, dict]] = {}
        if not chunks:
            return out
        out.update(await self._batch_chunk(chunks[0]))
        for part in await asyncio.gather(*(self._batch_chunk(c) for c in chunks[1:])):
            out.update(part)
        return out

    async def _batch_chunk(
        self, lookups: list[tuple[str, str, dict | None]]
    ) -> dict[str, tuple[int | None, dict]]:
        """One `$batch` of at most 20 GETs, and its throttled sub-requests again after their
        own Retry-After (at most RetryPolicy.max_attempts rounds), those failing with a 5xx
        again after a backoff (at most _SERVER_ERROR_RETRIES times each)."""
        out: dict[str, tuple[int | None, dict]] = {}
        pending = {str(i): item for i, item in enumerate(lookups)}
        server_errors = dict.fromkeys(pending, 0)  # 5xx answers so far, per lookup
        stats = self.stats["directory"]
        attempt = 0
        while pending:
            attempt += 1
            if self._directory_forbidden:
                out.update({key: (403, {}) for key, _, _ in pending.values()})
                break
            payload = {
                "requests": [
                    {"id": rid, "method": "GET", "url": url, **({"headers": h} if h else {})}
                    for rid, (_, url, h) in pending.items()
                ]
            }
            self.directory_batches += 1
            try:
                body = await self._send("directory", self._batch_request(payload))
            except GraphRequestError as exc:
                if exc.status == 403:
                    self._directory_forbidden = True
                out.update({key: (exc.status, {}) for key, _, _ in pending.values()})
                break
            answers = {
                str(r.get("id")): r for r in body.get("responses") or [] if isinstance(r, dict)
            }
            again: dict[str, tuple[str, str, dict | None]] = {}
            throttled = 0
            wait = 0.0
            for rid, item in pending.items():
                answer = answers.get(rid) or {}
                status = answer.get("status") if isinstance(answer.get("status"), int) else None
                sub_body = answer.get("body") if isinstance(answer.get("body"), dict) else {}
                if status == 403:
                    self._directory_forbidden = True
                if status in _SERVER_ERRORS:
                    server_errors[rid] += 1
                if (status == 429 and attempt < self.retry.max_attempts) or (
                    status in _SERVER_ERRORS and server_errors[rid] <= _SERVER_ERROR_RETRIES
                ):
                    headers = (
                        answer.get("headers") if isinstance(answer.get("headers"), dict) else {}
                    )
                    retry_after = parse_retry_after(
                        next(
                            (str(v) for k, v in headers.items() if k.lower() == "retry-after"), None
                        )
                    )
                    if retry_after is None:
                        retry_after = min(
                            self.retry.backoff_base_seconds * 2 ** (attempt - 1),
                            self.retry.backoff_max_seconds,
                        )
                    if retry_after <= self.retry.max_retry_after_seconds:
                        again[rid] = item
                        throttled += status == 429
                        wait = max(wait, retry_after)
                        continue
                out[item[0]] = (status, sub_body)
            pending = again
            if pending:
                stats.retries += len(pending)
                stats.throttled += throttled
                stats.throttle_wait_seconds += wait
                await asyncio.sleep(wait)
        return out

    def _batch_request(self, payload: dict) -> RequestInformation:
        """`POST /$batch` as a RequestInformation sent by `_send`: the SDK's request adapter
        (auth, middleware, the raw-response handler and `_send`'s retries of the whole
        batch on 429/5xx) carries it. msgraph-core's BatchRequestContent would build its
        own httpx requests and parse responses into its own models, outside `_send`."""
        request = RequestInformation(Method.POST, "{+baseurl}/$batch", {})
        request.headers.try_add("Accept", "application/json")
        request.set_stream_content(orjson.dumps(payload), "application/json")
        return request


_BATCH_MAX = 20  # Graph's limit of requests in one JSON batch
_SERVER_ERRORS = {500, 502, 503, 504}
_SERVER_ERROR_RETRIES = 3  # a lookup still failing then is `error`, asked again next run


def _department(body: dict) -> str | None:
    department = body.get("department")
    return department if isinstance(department, str) else None


def _failed_entry(status: int | None) -> DirectoryEntry:
    if status == 403:
        return DirectoryEntry("forbidden")
    return DirectoryEntry("error")


_ADDRESSES_PER_LOOKUP = 5  # x 3 OR clauses = 15, Graph's limit in a default query
_DIRECTORY_FIELDS = "department,userPrincipalName,mail,proxyAddresses"


def _odata_string(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _directory_filter_url(addresses: list[str]) -> str:
    """`/users?$filter=` matching any of the addresses as UPN, mail or `smtp:` proxy."""
    values = ",".join(_odata_string(a) for a in addresses)
    clauses = [f"userPrincipalName in ({values})", f"mail in ({values})"]
    clauses += [f"proxyAddresses/any(p:p eq {_odata_string('smtp:' + a)})" for a in addresses]
    flt = " or ".join(clauses)
    return f"/users?$filter={quote(flt, safe='')}&$select={_DIRECTORY_FIELDS}"


def _match(address: str, users: list[dict]) -> DirectoryEntry:
    """The user an SMTP address belongs to, in Exchange's order: UPN, mail, proxy address."""
    wanted = address.lower()

    def text(user: dict, key: str) -> str:
        value = user.get(key)
        return value.lower() if isinstance(value, str) else ""

    for via, hit in (
        ("upn", lambda u: text(u, "userPrincipalName") == wanted),
        ("mail", lambda u: text(u, "mail") == wanted),
        (
            "proxy",
            lambda u: any(
                isinstance(p, str) and p.lower() == f"smtp:{wanted}"
                for p in u.get("proxyAddresses") or []
            ),
        ),
    ):
        user = next((u for u in users if hit(u)), None)
        if user is not None:
            return DirectoryEntry("found", _department(user), via)
    return DirectoryEntry("not_found")


class _RawResponse(ResponseHandler):
    """Hands `_send` the httpx response as it came, whatever its status and body.

    What kiota raises for an error body it cannot parse depends on its version:
    kiota-http up to 1.12.0 lets a bare `Exception("Content type text/html does not have a
    factory registered to be parsed")` (or "Text does not support structured data" for
    text/plain) escape without any status, later versions wrap it in an `APIError` with the
    status (microsoft/kiota-python issue 705, PR 713). With the raw response the status
    decides, on every version, and kiota never builds an error model or message from the
    body.
    """

    async def handle_response_async(self, response, error_map=None):
        return response


_RAW_RESPONSE = ResponseHandlerOption(_RawResponse())
_MEDIA_TYPE = re.compile(r"[\w.+-]+/[\w.+-]+")


def _response_failure(response: httpx.Response) -> _Failure:
    """Status, Graph's error code and message (when the body is Graph's JSON error), and
    Retry-After of a failed response. Nothing else of the body is kept: a gateway page
    says nothing useful, and a body is never put into a message."""
    code = message = None
    try:
        error = orjson.loads(response.content).get("error")
    except (orjson.JSONDecodeError, AttributeError):
        error = None
    if isinstance(error, dict):
        code = error.get("code") if isinstance(error.get("code"), str) else None
        message = error.get("message") if isinstance(error.get("message"), str) else None
    if code is None and message is None:
        media = _MEDIA_TYPE.match(response.headers.get("content-type", "").strip())
        kind = media.group(0).lower()[:60] if media else "no content type"
        body = f"a {kind} body" if response.content else "an empty body"
        message = f"no Graph error in the response ({body})"
    return _Failure(
        response.status_code, code, message, parse_retry_after(response.headers.get("retry-after"))
    )


def _api_failure(exc: APIError) -> _Failure:
    status = getattr(exc, "response_status_code", None)
    headers = getattr(exc, "response_headers", None) or {}
    code = message = None
    error = getattr(exc, "error", None)
    if error is not None:
        code, message = getattr(error, "code", None), getattr(error, "message", None)
    retry_after = None
    try:
        retry_after = parse_retry_after(headers.get("retry-after") or headers.get("Retry-After"))
    except AttributeError:
        retry_after = None
    return _Failure(status, code, message, retry_after)


def _transient_failure(exc: BaseException) -> _Failure | None:
    """A failure worth another try hidden in an exception kiota or azure-core raised: a
    transport error anywhere in its chain of causes (azure-core wraps aiohttp's as
    ServiceRequestError/ServiceResponseError, with `inner_exception`), or a token endpoint
    that answered 429 or 5xx after azure-identity's own retries (when the status survives:
    for an HTML body azure-identity raises ClientAuthenticationError without a response,
    which stays an authentication failure)."""
    from azure.core.exceptions import (
        HttpResponseError,
        ServiceRequestError,
        ServiceResponseError,
    )

    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(
            current,
            httpx.TransportError | ServiceRequestError | ServiceResponseError | ConnectionError,
        ):
            return _Failure(None, type(current).__name__, "transport failure")
        if isinstance(current, HttpResponseError) and current.status_code in _RETRY_STATUSES:
            return _Failure(
                current.status_code,
                "TokenEndpointUnavailable",
                f"the token endpoint answered HTTP {current.status_code}",
            )
        current = current.__cause__ or getattr(current, "inner_exception", None)
    return None


def _bearer_token(request: RequestInformation) -> str | None:
    """The bearer token kiota put on the request (the one a 401 rejected)."""
    for value in request.headers.get("Authorization"):
        if value[:7].lower() == "bearer ":
            return value[7:].strip()
    return None


def _is_auth_error(exc: Exception) -> bool:
    from azure.core.exceptions import ClientAuthenticationError

    return isinstance(exc, ClientAuthenticationError)
