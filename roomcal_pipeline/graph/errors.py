"""Graph failures mapped to the reason codes of docs/marts.md."""

from __future__ import annotations

import re

# Reason codes for rooms that could not be synced (docs/marts.md).
NO_EMAIL = "no_email"
MAILBOX_NOT_FOUND = "mailbox_not_found"
MAILBOX_NOT_ENABLED = "mailbox_not_enabled"
ACCESS_DENIED = "access_denied"
AUTH_FAILED = "auth_failed"
THROTTLED = "throttled"
ERROR = "error"

_NOT_FOUND_CODES = frozenset(
    {"erroritemnotfound", "resourcenotfound", "errorinvaliduser", "request_resourcenotfound"}
)
_SECRET_RE = re.compile(
    r"(bearer\s+)[\w\-.~+/]+=*|eyJ[\w\-]+\.[\w\-]+\.[\w\-]*|"
    r"((?:client_secret|access_token|token|code)=)[^&\s]+",
    re.IGNORECASE,
)
_MAX_MESSAGE = 300


def reason_for(status: int | None, code: str | None) -> str:
    """Map an HTTP status and Graph error code to a docs/marts.md reason code."""
    code_lc = (code or "").lower()
    if code_lc == "mailboxnotenabledforrestapi":
        return MAILBOX_NOT_ENABLED
    if status == 401:
        return AUTH_FAILED
    if status == 403:
        return ACCESS_DENIED
    if status == 404 and (code_lc in _NOT_FOUND_CODES or not code_lc):
        return MAILBOX_NOT_FOUND
    if status == 429:
        return THROTTLED
    return ERROR


def scrub(message: str | None) -> str:
    """Drop anything that looks like a credential and bound the length of a message."""
    text = _SECRET_RE.sub(lambda m: (m.group(1) or m.group(2) or "") + "[redacted]", message or "")
    text = " ".join(text.split())
    return text if len(text) <= _MAX_MESSAGE else text[: _MAX_MESSAGE - 1] + "…"


class GraphRequestError(Exception):
    """A Graph request that failed for good (after retries), with its reason code.

    Its message is built only from the status, Graph's error code and Graph's
    error message, scrubbed of credentials: it never carries an event attribute.
    """

    def __init__(self, status: int | None, code: str | None, message: str | None, retries: int = 0):
        self.status = status
        self.code = code or ("transport_error" if status is None else f"http_{status}")
        self.graph_message = scrub(message)
        self.reason = reason_for(status, code) if status is not None else ERROR
        self.retries = retries
        super().__init__(self.detail)

    @property
    def detail(self) -> str:
        status = f"HTTP {self.status} " if self.status is not None else ""
        return f"{status}{self.code}: {self.graph_message}".strip()
