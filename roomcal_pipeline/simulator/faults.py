"""Fault switches and request instrumentation of the simulator server."""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, field


@dataclass
class FaultConfig:
    """Runtime-changeable fault injection; every random decision is seeded and per URL+attempt."""

    seed: int = 0
    latency_ms: float = 0.0
    throttle_every_n: int = 0  # every Nth faultable request answers 429 (0 = off)
    throttle_probability: float = 0.0
    retry_after: str = "int"  # "int" | "fraction" | "missing" | "http-date" | "mixed"
    retry_after_seconds: float = 1.0
    throttle_code: str = "TooManyRequests"  # or "ApplicationThrottled", or "mixed"
    server_error_probability: float = 0.0
    server_error_statuses: tuple[int, ...] = (500, 502, 503, 504)
    # A gateway in front of Graph (Azure Front Door, Application Gateway) answers instead of
    # Graph: an HTML error page, an empty body or plain text, never Graph's JSON error.
    gateway_error_probability: float = 0.0
    gateway_statuses: tuple[int, ...] = (502, 503, 504)
    gateway_body: str = "html"  # "html" | "empty" | "text" | "mixed"
    reset_probability: float = 0.0  # connection dropped mid-body
    truncate_probability: float = 0.0  # complete HTTP response whose JSON body is cut
    path_contains: str | None = None  # limit faults to URLs containing this (e.g. "calendarView")
    max_concurrent_per_mailbox: int = 4
    expire_delta_tokens: bool = False  # every delta/skip token answers 410
    delta_token_error: str = "SyncStateNotFound"  # or "resyncRequired"
    delta_empty_pages: bool = True  # sprinkle empty delta pages that still carry a nextLink
    users_forbidden: bool = False  # /users/{id} answers 403 Authorization_RequestDenied
    # Every user lookup (/users/{id}, /users?$filter=, directly or inside $batch) answers
    # this status (e.g. 503) instead: a directory that fails transiently.
    users_error_status: int | None = None
    # Probability that one sub-request of a $batch answers 429 with its own Retry-After
    # (retry_after_seconds, whole seconds) while the other sub-requests succeed.
    batch_throttle_probability: float = 0.0
    # Probability that one sub-request of a $batch answers 503 (a transient directory
    # failure, drawn again on every attempt) while the others succeed.
    batch_error_probability: float = 0.0
    # The app lacks the permission for the whole tenant (no Calendars.Read, or no admin
    # consent): every request with a valid token answers 403 ErrorAccessDenied.
    forbid_all: bool = False

    def draw(self, kind: str, url: str, attempt: int) -> float:
        """Deterministic uniform draw for one decision on one attempt at one URL."""
        return random.Random(f"{self.seed}|{kind}|{url}|{attempt}").random()


@dataclass
class ThrottleRecord:
    """A 429 sent, and when the client next asked for the same URL."""

    mailbox: str | None
    url: str
    sent_at: float
    retry_after: float | None
    code: str
    next_arrival: float | None = None

    @property
    def waited(self) -> float | None:
        """Seconds between the 429 and the retry (None when never retried)."""
        return None if self.next_arrival is None else self.next_arrival - self.sent_at


@dataclass
class ServerStats:
    """Counters a test or benchmark can assert on; reset() clears them in place."""

    total_requests: int = 0
    requests_per_mailbox: Counter = field(default_factory=Counter)
    in_flight: Counter = field(default_factory=Counter)
    max_concurrent_per_mailbox: dict[str, int] = field(default_factory=dict)
    concurrency_violations: list[dict] = field(default_factory=list)
    throttle_log: list[ThrottleRecord] = field(default_factory=list)
    faults_injected: Counter = field(default_factory=Counter)
    status_counts: Counter = field(default_factory=Counter)
    attempts: Counter = field(default_factory=Counter)  # arrivals per path+query
    token_requests: int = 0  # tokens issued by the token endpoint
    token_claims: list = field(default_factory=list)  # the `claims` of each token request

    def reset(self) -> None:
        """Forget everything observed so far (in-flight counts are kept)."""
        in_flight = self.in_flight
        self.__init__()  # type: ignore[misc]
        self.in_flight = in_flight

    def retry_after_violations(self, tolerance: float = 0.0) -> list[ThrottleRecord]:
        """429s whose Retry-After the client did not wait out before retrying."""
        return [
            r
            for r in self.throttle_log
            if r.retry_after is not None
            and r.waited is not None
            and r.waited + tolerance < r.retry_after
        ]
