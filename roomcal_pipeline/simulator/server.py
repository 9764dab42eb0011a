"""aiohttp server speaking Microsoft Graph's wire format for a SimulatedTenant."""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import logging
import math
import re
import ssl
import threading
import time
import uuid
from datetime import UTC, datetime
from email.utils import formatdate
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit

import orjson
from aiohttp import web

from .faults import FaultConfig, ServerStats, ThrottleRecord
from .graphtime import parse_iso, resolve_zone
from .org import SimUser, user_id
from .tenant import SimRoom, SimulatedTenant, delta_wire, to_wire

JSON_CT = (
    "application/json; odata.metadata=minimal; odata.streaming=true; "
    "IEEE754Compatible=false; charset=utf-8"
)
GRAPH_ROOT = "https://graph.microsoft.com/v1.0"
MAX_PAGE = 1000
_PREFER_TZ = re.compile(r'outlook\.timezone\s*=\s*"?([^",;]+)"?', re.I)
_PREFER_PAGE = re.compile(r"odata\.maxpagesize\s*=\s*(\d+)", re.I)
_FAILURE_ERRORS = {
    "mailbox_not_enabled": (
        404,
        "MailboxNotEnabledForRESTAPI",
        "The mailbox is either inactive, soft-deleted, or is hosted on-premise.",
    ),
    "access_denied": (
        403,
        "ErrorAccessDenied",
        "Access to OData is disabled: [RAOP] : Blocked by tenant configured AppOnly "
        "AccessPolicy settings.",
    ),
}
_NOT_FOUND_VARIANTS = (
    ("ErrorItemNotFound", "The specified object was not found in the store."),
    ("ResourceNotFound", "Resource could not be discovered."),
    ("ErrorInvalidUser", "The requested user '{m}' is invalid."),
)


class GraphError(Exception):
    """An error answered in Graph's JSON error shape."""

    def __init__(self, status: int, code: str, message: str, headers: dict | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.headers = status, code, message, headers or {}


class GatewayError(GraphError):
    """An error a gateway in front of Graph answers itself, in its own format, not Graph's.

    Azure Front Door and Application Gateway answer 502/503/504 (and 500) with an HTML
    page (Application Gateway: "502 Bad Gateway ... Microsoft-Azure-Application-Gateway/v2";
    learn.microsoft.com/azure/application-gateway/application-gateway-troubleshooting-502),
    other proxies with plain text or an empty body. Graph clients meet these bodies where
    they expect Graph's JSON error: microsoftgraph/msgraph-sdk-dotnet issue 2661 (HTML from
    Graph, "'<' is an invalid start of a value"), microsoft-graph-docs issue 12951 (raw
    HTML in Graph responses), microsoft/kiota-python issue 705 (a 502 text/html page
    raises a bare Exception). Graph's documentation asks to retry 503 after a delay
    (learn.microsoft.com/graph/errors) and its SDK design retries 429/503/504
    (microsoftgraph.github.io/msgraph-sdk-design/middleware/RetryHandler.html).
    """

    def __init__(self, status: int, style: str) -> None:
        reason = HTTPStatus(status).phrase
        super().__init__(status, f"gateway-{style}", reason)
        if style == "html":
            self.body = (
                f"<html>\r\n<head><title>{status} {reason}</title></head>\r\n<body>\r\n"
                f"<center><h1>{status} {reason}</h1></center>\r\n"
                "<hr><center>Microsoft-Azure-Application-Gateway/v2</center>\r\n"
                "</body>\r\n</html>\r\n"
            ).encode()
            self.headers = {"Content-Type": "text/html"}
        elif style == "text":
            self.body = reason.encode()
            self.headers = {"Content-Type": "text/plain; charset=utf-8"}
        else:  # "empty": no body and no Content-Type
            self.body = b""


def _token(state: dict) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(state)).decode().rstrip("=")


def _untoken(text: str) -> dict:
    try:
        state = orjson.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
    except (binascii.Error, ValueError, orjson.JSONDecodeError) as exc:
        raise ValueError("bad token") from exc
    if not isinstance(state, dict):
        raise ValueError("bad token")
    return state


class _App:
    """Request handling; lives on the server's event loop."""

    def __init__(
        self,
        tenant: SimulatedTenant,
        faults: FaultConfig,
        stats: ServerStats,
        tokens: dict[str, float | None],
        page_size: int,
        token_lifetime: int,
    ) -> None:
        self.tenant, self.faults, self.stats, self.tokens = tenant, faults, stats, tokens
        self.page_size, self.token_lifetime = page_size, token_lifetime
        self.delta_epoch = 0
        self.pending: dict[str, ThrottleRecord] = {}
        self.faultable = 0
        self.revoked: set[str] = set()  # tokens answered with 401 although not expired
        self.revoke_new = False  # revoke every token as soon as it is issued

    # ------------------------------------------------------------- plumbing
    def error(self, request: web.Request, exc: GraphError) -> web.Response:
        """Graph error body with innerError ids, Content-Type application/json."""
        if isinstance(exc, GatewayError):  # a gateway's own page, not Graph's JSON
            self.stats.status_counts[exc.status] += 1
            return web.Response(status=exc.status, body=exc.body, headers=exc.headers)
        body = {
            "error": {
                "code": exc.code,
                "message": exc.message,
                "innerError": {
                    "date": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S"),
                    "request-id": str(uuid.uuid4()),
                    "client-request-id": request.headers.get(
                        "client-request-id", str(uuid.uuid4())
                    ),
                },
            }
        }
        self.stats.status_counts[exc.status] += 1
        return web.Response(
            status=exc.status,
            body=orjson.dumps(body),
            content_type="application/json",
            headers=exc.headers,
        )

    def throttle(
        self, request: web.Request, mailbox: str | None, code: str, attempt: int
    ) -> GraphError:
        """Build a 429 and log it so the client's wait can be checked."""
        f = self.faults
        style = f.retry_after
        if style == "mixed":
            style = ("int", "fraction", "missing", "http-date")[len(self.stats.throttle_log) % 4]
        now = time.time()
        headers: dict[str, str] = {}
        retry: float | None
        if style == "missing":
            retry = None
        elif style == "fraction":
            retry = f.retry_after_seconds / 2
            headers["Retry-After"] = f"{retry:g}"
        elif style == "http-date":
            when = math.ceil(now) + max(1, math.ceil(f.retry_after_seconds))
            headers["Retry-After"] = formatdate(when, usegmt=True)
            retry = when - now
        else:
            retry = float(max(1, math.ceil(f.retry_after_seconds)))
            headers["Retry-After"] = str(int(retry))
        rec = ThrottleRecord(mailbox, request.path_qs, now, retry, code)
        self.stats.throttle_log.append(rec)
        self.pending[request.path_qs] = rec
        msg = (
            "Application is over its MailboxConcurrency limit."
            if code == "ApplicationThrottled"
            else "Too many requests."
        )
        return GraphError(429, code, msg, headers)

    def check_auth(self, request: web.Request) -> None:
        auth = request.headers.get("Authorization", "")
        if not auth.lower().startswith("bearer ") or not auth[7:].strip():
            raise GraphError(401, "InvalidAuthenticationToken", "Access token is empty.")
        token = auth[7:].strip()
        if token not in self.tokens:
            raise GraphError(401, "InvalidAuthenticationToken", "IDX14100: JWT is not well formed.")
        if token in self.revoked:
            raise GraphError(
                401,
                "InvalidAuthenticationToken",
                "Access token validation failure: the token has been revoked.",
            )
        expiry = self.tokens[token]
        if expiry is not None and time.time() >= expiry:
            raise GraphError(
                401,
                "InvalidAuthenticationToken",
                "Lifetime validation failed, the token is expired.",
            )
        if self.faults.forbid_all:
            raise GraphError(
                403, "ErrorAccessDenied", "Access is denied. Check credentials and try again."
            )

    async def handle(self, request: web.Request) -> web.StreamResponse:
        """Entry point for every /v1.0 request: auth, concurrency, faults, dispatch."""
        stats, url = self.stats, request.path_qs
        arrived = time.time()
        stats.total_requests += 1
        stats.attempts[url] += 1
        attempt = stats.attempts[url]
        rec = self.pending.pop(url, None)
        if rec is not None:
            rec.next_arrival = arrived
        segs = [unquote(s) for s in request.match_info["tail"].split("/") if s]
        # The SDK calls functions as "delta()" (sometimes namespaced "microsoft.graph.delta()").
        low = [
            s.lower().removesuffix("()").removeprefix("microsoft.graph.")
            if s.endswith("()")
            else s.lower()
            for s in segs
        ]
        mailbox = (
            segs[1].lower()
            if len(low) >= 3 and low[0] == "users" and "calendarview" in low
            else None
        )
        if mailbox:
            stats.requests_per_mailbox[mailbox] += 1
            stats.in_flight[mailbox] += 1
            now_in = stats.in_flight[mailbox]
            if now_in > stats.max_concurrent_per_mailbox.get(mailbox, 0):
                stats.max_concurrent_per_mailbox[mailbox] = now_in
        try:
            try:
                self.check_auth(request)
                if mailbox and stats.in_flight[mailbox] > self.faults.max_concurrent_per_mailbox:
                    stats.concurrency_violations.append(
                        {
                            "mailbox": mailbox,
                            "url": url,
                            "time": arrived,
                            "concurrent": stats.in_flight[mailbox],
                        }
                    )
                    raise self.throttle(request, mailbox, "ApplicationThrottled", attempt)
                if self.faults.latency_ms:
                    await asyncio.sleep(self.faults.latency_ms / 1000)
                faultable = self.faults.path_contains is None or self.faults.path_contains in url
                if faultable:
                    self.pre_faults(request, mailbox, url, attempt)
                status, body, headers = self.dispatch(request, segs, low)
            except GraphError as exc:
                return self.error(request, exc)
            stats.status_counts[status] += 1
            if faultable:
                broken = await self.post_faults(request, url, attempt, body, headers)
                if broken is not None:
                    return broken
            return web.Response(
                status=status, body=body, headers={"Content-Type": JSON_CT, **headers}
            )
        finally:
            if mailbox:
                stats.in_flight[mailbox] -= 1

    def pre_faults(self, request: web.Request, mailbox: str | None, url: str, attempt: int) -> None:
        f = self.faults
        self.faultable += 1
        hit = bool(f.throttle_every_n and self.faultable % f.throttle_every_n == 0)
        if hit or (f.throttle_probability and f.draw("429", url, attempt) < f.throttle_probability):
            code = f.throttle_code
            if code == "mixed":
                code = ("TooManyRequests", "ApplicationThrottled")[len(self.stats.throttle_log) % 2]
            self.stats.faults_injected["429"] += 1
            raise self.throttle(request, mailbox, code, attempt)
        if f.server_error_probability and f.draw("5xx", url, attempt) < f.server_error_probability:
            status = f.server_error_statuses[
                int(f.draw("5xxs", url, attempt) * len(f.server_error_statuses))
            ]
            self.stats.faults_injected[str(status)] += 1
            raise GraphError(
                status,
                {
                    500: "InternalServerError",
                    502: "BadGateway",
                    503: "ServiceUnavailable",
                    504: "GatewayTimeout",
                }.get(status, "UnknownError"),
                "Simulated server error.",
            )
        if f.gateway_error_probability and (
            f.draw("gateway", url, attempt) < f.gateway_error_probability
        ):
            status = f.gateway_statuses[
                int(f.draw("gateways", url, attempt) * len(f.gateway_statuses))
            ]
            style = f.gateway_body
            if style == "mixed":
                style = ("html", "empty", "text")[self.stats.faults_injected["gateway"] % 3]
            self.stats.faults_injected["gateway"] += 1
            self.stats.faults_injected[f"gateway-{style}"] += 1
            self.stats.faults_injected[str(status)] += 1
            raise GatewayError(status, style)

    async def post_faults(
        self, request: web.Request, url: str, attempt: int, body: bytes, headers: dict
    ) -> web.StreamResponse | None:
        f = self.faults
        if f.reset_probability and f.draw("reset", url, attempt) < f.reset_probability:
            self.stats.faults_injected["reset"] += 1
            resp = web.StreamResponse(status=200, headers={"Content-Type": JSON_CT, **headers})
            resp.content_length = len(body)
            await resp.prepare(request)
            await resp.write(body[: len(body) // 2])
            if request.transport is not None:
                request.transport.abort()
            return resp
        if f.truncate_probability and f.draw("truncate", url, attempt) < f.truncate_probability:
            self.stats.faults_injected["truncate"] += 1
            return web.Response(
                status=200,
                body=body[: max(1, len(body) // 2)],
                headers={"Content-Type": JSON_CT, **headers},
            )
        return None

    # --------------------------------------------------------------- routes
    def dispatch(
        self, request: web.Request, segs: list[str], low: list[str]
    ) -> tuple[int, bytes, dict]:
        if request.method != "GET":
            raise GraphError(
                405, "Request_BadRequest", f"The HTTP method '{request.method}' is not allowed."
            )
        q = {k.lower(): v for k, v in request.query.items()}
        if (
            len(low) == 2
            and low[0] == "places"
            and low[1] in ("microsoft.graph.room", "graph.room")
        ):
            return self.places(q)
        if len(low) >= 3 and low[0] == "users":
            rest = [x for x in low[2:] if x != "calendar"]
            if rest == ["calendarview"]:
                return self.calendar_view(request, segs[1], q)
            if rest == ["calendarview", "delta"]:
                return self.delta(request, segs[1], q)
        if len(low) == 2 and low[0] == "users":
            return self.user(segs[1], q)
        if low == ["users"] and "$filter" in q:
            return self.users_filter(q, {k.lower(): v for k, v in request.headers.items()})
        raise GraphError(
            400, "BadRequest", f"Resource not found for the segment '{segs[-1] if segs else ''}'."
        )

    def mailbox(self, address: str) -> SimRoom:
        room = self.tenant.room(address)
        if room is None:
            raise GraphError(404, "ErrorInvalidUser", f"The requested user '{address}' is invalid.")
        if room.failure == "mailbox_not_found":
            # Exchange answers a missing mailbox in several ways; rotate through them.
            seen = self.stats.requests_per_mailbox[address.lower()]
            code, msg = _NOT_FOUND_VARIANTS[max(0, seen - 1) % len(_NOT_FOUND_VARIANTS)]
            raise GraphError(404, code, msg.format(m=address))
        if room.failure in _FAILURE_ERRORS:
            status, code, msg = _FAILURE_ERRORS[room.failure]
            raise GraphError(status, code, msg)
        return room

    def prefer(self, request: web.Request, q: dict) -> tuple[Any, str, int, dict]:
        """Zone and page size from Prefer/$top, plus the Preference-Applied header."""
        prefer = ", ".join(request.headers.getall("Prefer", []))
        applied = []
        m = _PREFER_TZ.search(prefer)
        tz, tzname = resolve_zone(m.group(1).strip() if m else None)
        if m:
            applied.append(f'outlook.timezone="{tzname}"')
        size = self.page_size
        m = _PREFER_PAGE.search(prefer)
        if m:
            size = int(m.group(1))
            applied.append(f"odata.maxpagesize={size}")
        if "$top" in q:
            try:
                size = int(q["$top"])
            except ValueError as exc:
                raise GraphError(400, "BadRequest", "Invalid $top value.") from exc
        size = max(1, min(MAX_PAGE, size))
        return tz, tzname, size, ({"Preference-Applied": ", ".join(applied)} if applied else {})

    @staticmethod
    def window(q: dict) -> tuple[datetime, datetime]:
        if not q.get("startdatetime") or not q.get("enddatetime"):
            raise GraphError(
                400,
                "ErrorInvalidParameter",
                "This request requires a time window specified by the query string "
                "parameters StartDateTime and EndDateTime.",
            )
        try:
            return parse_iso(q["startdatetime"]), parse_iso(q["enddatetime"])
        except ValueError as exc:
            raise GraphError(
                400, "ErrorInvalidParameter", "Invalid StartDateTime or EndDateTime."
            ) from exc

    @staticmethod
    def base(request: web.Request) -> str:
        return f"{request.scheme}://{request.host}/v1.0"

    def link(self, request: web.Request, params: list[tuple[str, str]]) -> str:
        path = request.raw_path.split("?", 1)[0]
        return f"{self.base(request)}{path[len('/v1.0') :]}?" + urlencode(
            params, quote_via=quote, safe="$,:"
        )

    def calendar_view(self, request: web.Request, address: str, q: dict) -> tuple[int, bytes, dict]:
        room = self.mailbox(address)
        start, end = self.window(q)
        tz, tzname, size, headers = self.prefer(request, q)
        cursor = None
        if "$skiptoken" in q:
            try:
                state = _untoken(q["$skiptoken"])
                cursor, size = tuple(state["c"]), int(state["p"])
            except (ValueError, KeyError, TypeError) as exc:
                raise GraphError(400, "BadRequest", "Invalid $skiptoken.") from exc
        fields = None
        if q.get("$select"):
            wanted = {f.strip().lower() for f in q["$select"].split(",") if f.strip()}
            fields = ["@odata.etag", "id"] + [
                k for k in _EVENT_KEYS if k.lower() in wanted and k != "id"
            ]
        events, nxt = self.tenant.view_page(room, start, end, cursor, size)  # type: ignore[arg-type]
        page: dict[str, Any] = {
            "@odata.context": f"{GRAPH_ROOT}/$metadata#users('{quote(address)}')/calendarView",
            "value": [to_wire(e, tz, tzname, fields) for e in events],
        }
        if nxt is not None:
            params = [(k, v) for k, v in request.query.items() if k.lower() != "$skiptoken"]
            params.append(("$skiptoken", _token({"c": list(nxt), "p": size})))
            page["@odata.nextLink"] = self.link(request, params)
        return 200, orjson.dumps(page), headers

    def delta(self, request: web.Request, address: str, q: dict) -> tuple[int, bytes, dict]:
        room = self.mailbox(address)
        tz, tzname, size, headers = self.prefer(request, q)
        token = q.get("$deltatoken") or q.get("$skiptoken")
        if token is None:
            start, end = self.window(q)
            state = {
                "k": "s",
                "m": room.email,
                "s": start.isoformat(),
                "e": end.isoformat(),
                "v": self.tenant.version,
                "mi": 0,
                "c": None,
                "x": 0,
                "n": 0,
                "p": size,
            }
        else:
            state = self.delta_state(token, room)
            if "$deltatoken" in q:  # a stored deltaLink: start an incremental round
                state = {**state, "k": "i", "v1": self.tenant.version, "o": 0, "n": 0, "p": size}
        start, end = parse_iso(state["s"]), parse_iso(state["e"])
        size = int(state.get("p", size))
        page: dict[str, Any] = {
            "@odata.context": f"{GRAPH_ROOT}/$metadata#Collection(event)",
            "value": [],
        }
        f = self.faults
        if f.delta_empty_pages and not state["x"] and state["n"] % 3 == 1:
            page["@odata.nextLink"] = self.delta_link(request, {**state, "x": 1}, "$skiptoken")
            return 200, orjson.dumps(page), headers
        state = {**state, "x": 0, "n": state["n"] + 1}
        if state["k"] == "s":
            masters = self.tenant.masters(room, start, end)
            items = masters[state["mi"] : state["mi"] + size]
            state["mi"] += len(items)
            more = state["mi"] < len(masters)
            if not more:
                cursor = tuple(state["c"]) if state["c"] else None
                inst, nxt = self.tenant.view_page(room, start, end, cursor, size - len(items))  # type: ignore[arg-type]
                items += inst
                state["c"] = list(nxt) if nxt else None
                more = nxt is not None
            page["value"] = [delta_wire(e, tz, tzname) for e in items]
        else:
            ids = self.tenant.changes_since(room.email, state["v"], state["v1"])  # type: ignore[arg-type]
            chunk = ids[state["o"] : state["o"] + size]
            state["o"] += len(chunk)
            more = state["o"] < len(ids)
            for eid in chunk:
                live = [e for e in self.tenant.current(room, eid) if _in_window(e, start, end)]
                page["value"] += [delta_wire(e, tz, tzname) for e in live] or [
                    {
                        "@odata.type": "#microsoft.graph.event",
                        "id": eid,
                        "@removed": {"reason": "deleted"},
                    }
                ]
        if more:
            page["@odata.nextLink"] = self.delta_link(request, state, "$skiptoken")
        else:
            final = {
                "k": "d",
                "m": room.email,
                "s": state["s"],
                "e": state["e"],
                "v": state["v1"] if state["k"] == "i" else state["v"],
                "x": 0,
                "n": 0,
            }
            page["@odata.deltaLink"] = self.delta_link(request, final, "$deltatoken")
        return 200, orjson.dumps(page), headers

    def delta_state(self, token: str, room: SimRoom) -> dict:
        """Decode a delta/skip token, answering 410 like Graph when it is unusable."""
        f = self.faults
        try:
            state = _untoken(token)
            valid = (
                state.get("m") == room.email
                and state.get("g") == self.delta_epoch
                and state.get("t") == self.tenant.seed
                and not f.expire_delta_tokens
            )
        except ValueError:
            valid = False
        if not valid:
            if f.delta_token_error == "resyncRequired":
                raise GraphError(
                    410,
                    "resyncRequired",
                    "Resync required. Replace any local items "
                    "with the server's version (including deletes) if you're sure "
                    "that the service was up to date with your local changes when "
                    "you last sync'd.",
                )
            raise GraphError(410, "SyncStateNotFound", "The sync state generation is not found.")
        return state

    def delta_link(self, request: web.Request, state: dict, name: str) -> str:
        state = {**state, "g": self.delta_epoch, "t": self.tenant.seed}
        path = "/users/" + quote(state["m"]) + "/calendarView/delta"
        return f"{self.base(request)}{path}?{name}={_token(state)}"

    def places(self, q: dict) -> tuple[int, bytes, dict]:
        try:
            top, skip = int(q.get("$top", 100)), int(q.get("$skip", 0))
        except ValueError as exc:
            raise GraphError(400, "BadRequest", "Invalid $top or $skip.") from exc
        rooms = [r for r in self.tenant.rooms if r.in_places and r.email]
        value = [
            {
                "@odata.type": "#microsoft.graph.room",
                "id": str(uuid.uuid5(uuid.NAMESPACE_DNS, r.email)),  # type: ignore[arg-type]
                "emailAddress": r.email,
                "displayName": r.name,
                "nickname": r.name,
                "building": r.building,
                "floorNumber": r.floor,
                "floorLabel": str(r.floor),
                "capacity": r.capacity,
                "label": None,
                "bookingType": "standard",
                "tags": [],
                "isWheelChairAccessible": False,
                "phone": None,
                "audioDeviceName": None,
                "videoDeviceName": None,
                "displayDeviceName": None,
                "address": None,
                "geoCoordinates": None,
            }
            for r in rooms[skip : skip + top]
        ]
        body = {
            "@odata.context": f"{GRAPH_ROOT}/$metadata#places/microsoft.graph.room",
            "value": value,
        }
        return 200, orjson.dumps(body), {}

    # ------------------------------------------------------------ directory
    def directory_faults(self) -> None:
        """403 without User.Read.All (for every user at once), or a transient failure."""
        if self.faults.users_forbidden:
            raise GraphError(
                403,
                "Authorization_RequestDenied",
                "Insufficient privileges to complete the operation.",
            )
        status = self.faults.users_error_status
        if status:
            raise GraphError(status, HTTPStatus(status).phrase.replace(" ", ""), "Simulated.")

    @staticmethod
    def user_json(user: SimUser, q: dict) -> dict:
        """A user's properties, restricted to $select when given."""
        full = {
            "id": user_id(user),
            "displayName": user.name,
            "mail": user.address,
            "userPrincipalName": user.principal,
            "proxyAddresses": user.proxy_addresses,
            "department": user.department,
        }
        if q.get("$select"):
            wanted = {f.strip().lower() for f in q["$select"].split(",")}
            return {k: v for k, v in full.items() if k.lower() in wanted}
        return full

    def user(self, address: str, q: dict) -> tuple[int, bytes, dict]:
        """GET /users/{id | userPrincipalName}: by object id or UPN only, so an SMTP address
        that is not the UPN answers 404 Request_ResourceNotFound
        (https://learn.microsoft.com/graph/api/user-get; GRAPH_FACTS.md "Directory")."""
        self.directory_faults()
        user = self.tenant.org.user_by_principal(address)
        if user is None:
            raise GraphError(
                404,
                "Request_ResourceNotFound",
                f"Resource '{address}' does not exist or one of its queried "
                "reference-property objects are not present.",
            )
        if q.get("$select"):
            context = f"{GRAPH_ROOT}/$metadata#users({q['$select']})/$entity"
        else:
            context = f"{GRAPH_ROOT}/$metadata#users/$entity"
        body = {"@odata.context": context, **self.user_json(user, q)}
        return 200, orjson.dumps(body), {}

    _STRING = r"'(?:[^']|'')*'"
    _TERM = re.compile(
        rf"^\s*(?:(?P<prop>userPrincipalName|mail)\s+eq\s+(?P<one>{_STRING})"
        rf"|(?P<inprop>userPrincipalName|mail)\s+in\s+\((?P<many>\s*{_STRING}(?:\s*,\s*{_STRING})*)\s*\)"
        rf"|proxyAddresses/any\((?P<var>\w+):\s*(?P=var)\s+eq\s+(?P<proxy>{_STRING})\))\s*$",
        re.IGNORECASE,
    )
    _MAX_OR_CLAUSES = 15  # in a default (not advanced) directory query

    def users_filter(self, q: dict, headers: dict) -> tuple[int, bytes, dict]:
        """GET /users?$filter= on userPrincipalName / mail (eq, in) and proxyAddresses
        (any with eq), joined by `or`.

        These operators work in default queries (https://learn.microsoft.com/graph/api/
        resources/user, property table). A default query allows 15 OR child clauses, each
        value of an `in` counting as one; the 16th answers 400 "Too many child clauses
        specified in search filter expression containing 'OR' operators: 16. Max allowed:
        15" (microsoftgraph/microsoft-graph-docs issue 21098; the error code is assumed),
        while an advanced query (`ConsistencyLevel: eventual`) is limited by the URL's
        length instead (PR 22097). `$count` is advanced only: without the header Graph
        answers 400 (https://learn.microsoft.com/graph/aad-advanced-queries). Strings
        compare case-insensitively, the `SMTP:`/`smtp:` prefix included. The answer is a
        collection `{"value": [...]}`, empty when nothing matches (never 404).
        """
        self.directory_faults()
        advanced = headers.get("consistencylevel", "").lower() == "eventual"
        count = q.get("$count", "").lower() == "true"
        if count and not advanced:
            raise GraphError(400, "Request_BadRequest", "$count is not currently supported.")
        wanted: dict[str, set[str]] = {"userprincipalname": set(), "mail": set(), "proxy": set()}
        clauses = 0
        for term in re.split(r"\s+or\s+", q["$filter"], flags=re.IGNORECASE):
            m = self._TERM.match(term)
            if m is None:
                raise GraphError(
                    400,
                    "Request_UnsupportedQuery",
                    "Unsupported or invalid query filter clause specified for property "
                    "of resource 'User'.",
                )
            if m.group("one") is not None:
                values, prop = [m.group("one")], m.group("prop")
            elif m.group("many") is not None:
                values = re.findall(self._STRING, m.group("many"))
                prop = m.group("inprop")
            else:
                values, prop = [m.group("proxy")], "proxy"
            clauses += len(values)
            wanted[prop.lower()].update(v[1:-1].replace("''", "'").lower() for v in values)
        if clauses > self._MAX_OR_CLAUSES and not advanced:
            raise GraphError(
                400,
                "Request_UnsupportedQuery",
                "Too many child clauses specified in search filter expression containing "
                f"'OR' operators: {clauses}. Max allowed: {self._MAX_OR_CLAUSES}.",
            )
        people = self.tenant.org.users_matching(
            wanted["userprincipalname"], wanted["mail"], wanted["proxy"]
        )
        value = [self.user_json(u, q) for u in people]
        body: dict[str, Any] = {"@odata.context": f"{GRAPH_ROOT}/$metadata#users"}
        if count:
            body["@odata.count"] = len(value)
        body["value"] = value
        return 200, orjson.dumps(body), {}

    async def batch(self, request: web.Request) -> web.Response:
        """POST /$batch, JSON batching (https://learn.microsoft.com/graph/json-batching):
        `{"requests": [{"id", "method", "url", "headers"}]}`, at most 20, ids unique, else
        400 for the whole batch; the envelope answers 200 and each sub-response carries its
        own id, status, headers and body, a throttled one a 429 with its own Retry-After
        (https://learn.microsoft.com/graph/throttling, "Throttling and batching").
        Sub-requests served here: the directory lookups (users/{id}, users?$filter=)."""
        stats, url = self.stats, request.path_qs
        stats.total_requests += 1
        stats.attempts[url] += 1
        attempt = stats.attempts[url]
        try:
            self.check_auth(request)
            if self.faults.latency_ms:
                await asyncio.sleep(self.faults.latency_ms / 1000)
            if self.faults.path_contains is None or self.faults.path_contains in url:
                self.pre_faults(request, None, url, attempt)
            try:
                payload = orjson.loads(await request.read())
            except orjson.JSONDecodeError:
                raise GraphError(400, "BadRequest", "Invalid batch payload format.") from None
            reqs = payload.get("requests") if isinstance(payload, dict) else None
            if not isinstance(reqs, list) or not reqs:
                raise GraphError(400, "BadRequest", "Invalid batch payload format.")
            if len(reqs) > 20:
                raise GraphError(
                    400, "BadRequest", "Number of batch operations exceeds the limit of 20."
                )
            ids = [str(r.get("id")) if isinstance(r, dict) else None for r in reqs]
            if None in ids or len({i.lower() for i in ids if i}) != len(ids):
                raise GraphError(400, "BadRequest", "Batch request ids must be unique.")
            responses = [self.batch_one(r) for r in reqs]
        except GraphError as exc:
            return self.error(request, exc)
        stats.status_counts[200] += 1
        body = orjson.dumps({"responses": responses})
        return web.Response(status=200, body=body, headers={"Content-Type": JSON_CT})

    def batch_one(self, req: dict) -> dict:
        rid, url = str(req.get("id")), str(req.get("url") or "")
        headers = {str(k).lower(): str(v) for k, v in (req.get("headers") or {}).items()}
        key = "$batch|" + url
        self.stats.attempts[key] += 1
        attempt = self.stats.attempts[key]
        f = self.faults
        try:
            if str(req.get("method", "")).upper() != "GET":
                raise GraphError(405, "Request_BadRequest", "Only GET is simulated in $batch.")
            if f.batch_throttle_probability and (
                f.draw("batch429", url, attempt) < f.batch_throttle_probability
            ):
                self.stats.faults_injected["batch-429"] += 1
                retry = str(max(1, math.ceil(f.retry_after_seconds)))
                raise GraphError(
                    429, "TooManyRequests", "Too many requests.", {"Retry-After": retry}
                )
            if f.batch_error_probability and (
                f.draw("batch503", url, attempt) < f.batch_error_probability
            ):
                self.stats.faults_injected["batch-503"] += 1
                raise GraphError(503, "ServiceUnavailable", "Simulated transient failure.")
            parts = urlsplit(url if url.startswith("/") else "/" + url)
            segs = [unquote(x) for x in parts.path.split("/") if x]
            low = [x.lower() for x in segs]
            q = {k.lower(): v for k, v in parse_qsl(parts.query, keep_blank_values=True)}
            if low == ["users"] and "$filter" in q:
                status, body, extra = self.users_filter(q, headers)
            elif len(low) == 2 and low[0] == "users":
                status, body, extra = self.user(segs[1], q)
            else:
                raise GraphError(400, "BadRequest", f"Resource not found for '{url}'.")
        except GraphError as exc:
            self.stats.status_counts[exc.status] += 1
            error = {"code": exc.code, "message": exc.message}
            return {
                "id": rid,
                "status": exc.status,
                "headers": {"Content-Type": "application/json", **exc.headers},
                "body": {"error": error},
            }
        self.stats.status_counts[status] += 1
        return {
            "id": rid,
            "status": status,
            "headers": {"Content-Type": JSON_CT, **extra},
            "body": orjson.loads(body),
        }

    async def token_endpoint(self, request: web.Request) -> web.Response:
        """Azure AD v2 client_credentials token issuing short-lived bearer tokens."""
        form = await request.post()
        if form.get("grant_type") != "client_credentials" or not form.get("client_id"):
            body = {
                "error": "unsupported_grant_type",
                "error_description": "AADSTS70003: unsupported grant.",
            }
            return web.Response(
                status=400, body=orjson.dumps(body), content_type="application/json"
            )
        token = "sim-" + uuid.uuid4().hex
        self.tokens[token] = time.time() + self.token_lifetime
        self.stats.token_requests += 1
        self.stats.token_claims.append(form.get("claims"))
        if self.revoke_new:
            self.revoked.add(token)
        body = {
            "token_type": "Bearer",
            "expires_in": self.token_lifetime,
            "ext_expires_in": self.token_lifetime,
            "access_token": token,
        }
        return web.Response(body=orjson.dumps(body), content_type="application/json")


_EVENT_KEYS = [
    "id",
    "createdDateTime",
    "lastModifiedDateTime",
    "changeKey",
    "categories",
    "transactionId",
    "originalStartTimeZone",
    "originalEndTimeZone",
    "iCalUId",
    "reminderMinutesBeforeStart",
    "isReminderOn",
    "hasAttachments",
    "subject",
    "bodyPreview",
    "importance",
    "sensitivity",
    "isAllDay",
    "isCancelled",
    "isOrganizer",
    "responseRequested",
    "seriesMasterId",
    "showAs",
    "type",
    "webLink",
    "onlineMeetingUrl",
    "isOnlineMeeting",
    "onlineMeetingProvider",
    "allowNewTimeProposals",
    "occurrenceId",
    "isDraft",
    "hideAttendees",
    "responseStatus",
    "body",
    "start",
    "end",
    "location",
    "locations",
    "recurrence",
    "attendees",
    "organizer",
    "onlineMeeting",
    "attachments",
]


def _in_window(ev: dict, start: datetime, end: datetime) -> bool:
    """Whether a changed event still belongs to a delta round's window: the overlap rule of
    calendarView (start < window end and end > window start; a zero-length event when
    window start <= start < window end), on true instants, so a block that began before
    the window is reported in full and one moved out of it as @removed (GRAPH_FACTS
    "Delta"; https://learn.microsoft.com/en-us/graph/api/event-delta)."""
    lo, hi = sorted((ev["_s"], ev["_e"]))
    return lo < end and hi > start if lo != hi else start <= lo < end


def build_app(core: _App) -> web.Application:
    """The aiohttp application routing Graph paths and the token endpoint."""
    app = web.Application()
    app.router.add_post("/v1.0/$batch", core.batch)
    app.router.add_route("*", "/v1.0/{tail:.*}", core.handle)
    app.router.add_post("/{tenant}/oauth2/v2.0/token", core.token_endpoint)
    return app


class SimulatorServer:
    """Runs the simulator on a background thread with its own event loop."""

    def __init__(
        self,
        tenant: SimulatedTenant,
        faults: FaultConfig | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        token: str | None = "sim-token",
        page_size: int = 10,
        token_lifetime: int = 3600,
        tls: tuple[str, str] | None = None,
    ) -> None:
        """`tls` = (certificate file, key file): also serve HTTPS, on `tls_port`, for
        clients that refuse plain http, such as azure-identity for its authority."""
        self.tenant = tenant
        self.faults = faults or FaultConfig()
        self.stats = ServerStats()
        self.host, self.port = host, port
        self.tokens: dict[str, float | None] = {token: None} if token else {}
        self._core = _App(tenant, self.faults, self.stats, self.tokens, page_size, token_lifetime)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None
        self._tls = tls
        self.tls_port: int | None = None

    @property
    def faults(self) -> FaultConfig:
        return self._faults

    @faults.setter
    def faults(self, value: FaultConfig) -> None:
        """Swapping the FaultConfig takes effect on the next request."""
        self._faults = value
        if hasattr(self, "_core"):
            self._core.faults = value

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}/v1.0"

    @property
    def token_url(self) -> str:
        return f"http://{self.host}:{self.port}/simtenant/oauth2/v2.0/token"

    @property
    def authority(self) -> str:
        """The HTTPS authority for azure-identity (`authority=` or AZURE_AUTHORITY_HOST): it
        POSTs to {authority}/{tenant}/oauth2/v2.0/token. Needs `tls`."""
        if self.tls_port is None:
            raise RuntimeError("the simulator serves HTTPS only when started with tls=")
        return f"https://{self.host}:{self.tls_port}"

    async def _startup(self) -> None:
        logging.getLogger("aiohttp.server").setLevel(logging.CRITICAL)
        self._runner = web.AppRunner(build_app(self._core), access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        self.port = self._runner.addresses[0][1]
        if self._tls:
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(*self._tls)
            before = set(self._runner.addresses)
            await web.TCPSite(self._runner, self.host, 0, ssl_context=context).start()
            (address,) = set(self._runner.addresses) - before
            self.tls_port = address[1]

    def start(self) -> SimulatorServer:
        """Start serving in a background thread; returns once the port is bound.

        Idempotent, so both `SimulatorServer(t).start()` and `with SimulatorServer(t)` work.
        """
        if self._thread is not None:
            return self
        loop = asyncio.new_event_loop()
        ready = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(self._startup())
            except BaseException as exc:  # noqa: BLE001 - handed to the caller
                failure.append(exc)
                ready.set()
                return
            ready.set()
            loop.run_forever()
            loop.run_until_complete(self._runner.cleanup())  # type: ignore[union-attr]
            loop.close()

        self._loop = loop
        self._thread = threading.Thread(target=run, name="roomcal-simulator", daemon=True)
        self._thread.start()
        ready.wait(30)
        if failure:
            raise failure[0]
        return self

    def stop(self) -> None:
        """Stop the loop and wait for the thread."""
        if self._loop and self._thread:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)
        self._loop = self._thread = None

    def __enter__(self) -> SimulatorServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def expire_tokens(self) -> None:
        """Make every token issued so far answer 401 InvalidAuthenticationToken."""
        for token in self.tokens:
            self.tokens[token] = 0.0

    def accept_token(self, token: str) -> None:
        """Accept (again) a static bearer token."""
        self.tokens[token] = None
        self._core.revoked.discard(token)

    def revoke_tokens(self, *, also_new: bool = False) -> None:
        """Answer 401 InvalidAuthenticationToken for every token issued so far, although
        none has expired (a revoked grant, a key rollover); with `also_new`, for every
        token issued from now on as well (a 401 that a new token does not cure)."""
        self._core.revoked.update(self.tokens)
        self._core.revoke_new = also_new

    def expire_delta_tokens(self) -> None:
        """Invalidate every delta/skip token issued so far (410 SyncStateNotFound)."""
        self._core.delta_epoch += 1

    def reset_stats(self) -> None:
        """Clear the instrumentation counters in place."""
        self.stats.reset()
        self._core.pending.clear()


def serve_forever(
    tenant: SimulatedTenant,
    faults: FaultConfig | None = None,
    host: str = "127.0.0.1",
    port: int = 8765,
    token: str | None = "sim-token",
    page_size: int = 10,
) -> None:
    """Serve in the foreground until interrupted (for the CLI)."""
    server = SimulatorServer(tenant, faults, host, port, token, page_size)

    async def main() -> None:
        await server._startup()
        print(
            f"roomcal simulator serving {server.base_url} (token {token!r}, "
            f"{len(tenant.rooms)} rooms)",
            flush=True,
        )
        try:
            await asyncio.Event().wait()
        finally:
            await server._runner.cleanup()  # type: ignore[union-attr]

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main())
