"""Credentials for Graph: azure-identity (secret or certificate) or a fixed token."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from azure.core.credentials import AccessToken

from roomcal_pipeline.config.settings import Settings

# An empty claims request: enough for azure-identity to skip its cache (see below). kiota asks
# for CAE tokens (enable_cae=True), so azure-identity merges it with the CP1 capability and
# the token request carries {"access_token":{"xms_cc":{"values":["CP1"]}}}, exactly what
# every CAE token request carries anyway.
_REFRESH_CLAIMS = '{"access_token":{}}'


class StaticTokenCredential:
    """An async azure-core credential that hands out one fixed bearer token
    (`ROOMCAL_GRAPH_TOKEN`, for emulators and tests)."""

    def __init__(self, token: str) -> None:
        self._token = token

    async def get_token(self, *scopes: str, **kwargs) -> AccessToken:
        return AccessToken(self._token, int(time.time()) + 3600)

    async def close(self) -> None:
        return None

    async def __aenter__(self) -> StaticTokenCredential:
        return self

    async def __aexit__(self, *exc) -> None:
        return None


class RefreshableCredential:
    """Wraps an azure-identity credential so that a 401 can ask for a new token, once.

    azure-identity caches a token until shortly before it expires; a token that Graph
    rejects earlier (revoked, clock skew, a tenant policy change) would be handed out
    again. After `invalidate()` the next `get_token` asks for a fresh one by passing
    `claims`: that is what bypasses the cache in azure-identity (1.27,
    `_internal/aad_client_base.py`, `get_cached_access_token`: "Do not return a cached
    token if claims are provided"), so `GetTokenMixin._get_token_base` finds no token and
    calls `_request_token`, which POSTs to the token endpoint and caches the new token
    under the same key, replacing the old. `enable_cae` does not bypass anything: it only
    picks a second cache (`AadClientBase._get_cache`).

    A revoked token makes every request in flight fail at once. Only the first 401 for
    the current token starts a refresh; requests that were rejected with the same token,
    or that ask for a token while the refresh runs, wait for that one token request, and
    a 401 for a token that has already been replaced asks for nothing.
    """

    def __init__(self, inner) -> None:
        self._inner = inner
        self._stale = False
        self._current: str | None = None  # the token handed out last
        self._refresh: asyncio.Future | None = None  # the token request a refresh runs

    def _pending(self) -> asyncio.Future | None:
        """The refresh under way on this event loop, if any."""
        refresh = self._refresh
        if refresh is not None and (
            refresh.done() or refresh.get_loop() is not asyncio.get_running_loop()
        ):
            self._refresh = refresh = None  # finished, or left behind by an ended loop
        return refresh

    async def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        refresh = self._pending()
        if refresh is None and self._stale:
            self._stale = False
            # kiota passes claims=None when there is no challenge: replace, not setdefault.
            kwargs["claims"] = kwargs.get("claims") or _REFRESH_CLAIMS
            refresh = self._refresh = asyncio.ensure_future(
                self._inner.get_token(*scopes, **kwargs)
            )
        if refresh is not None:
            try:
                # shield: a waiter that is cancelled must not cancel the others' request
                token = await asyncio.shield(refresh)
            except Exception:
                self._stale = True  # the refresh failed: the next get_token tries again
                raise
        else:
            token = await self._inner.get_token(*scopes, **kwargs)
        self._current = token.token
        return token

    async def invalidate(self, rejected: str | None = None) -> None:
        """Ask for a new token on the next `get_token`, unless one is already being
        fetched or the rejected token (when given) is no longer the current one."""
        if self._pending() is not None:
            return
        if rejected is not None and self._current is not None and rejected != self._current:
            return
        self._stale = True

    async def close(self) -> None:
        await self._inner.close()

    async def __aenter__(self) -> RefreshableCredential:
        return self

    async def __aexit__(self, *exc) -> None:
        await self.close()


def credential_from_settings(settings: Settings, **identity_options: Any):
    """The credential docs/configuration.md asks for: fixed token first, then azure-identity.

    azure-identity credentials are wrapped in `RefreshableCredential`, so that a 401 gets
    one new token instead of the cached one. The authority is azure-identity's own
    setting: it reads AZURE_AUTHORITY_HOST (national clouds) when the credential is
    built. `identity_options` go to the azure-identity credential as they are (for
    example `connection_verify`, a CA bundle for its token requests).
    """
    settings.require_graph_credentials()
    if settings.graph_token:
        return StaticTokenCredential(settings.graph_token)
    from azure.identity.aio import CertificateCredential, ClientSecretCredential

    if settings.client_secret:
        inner = ClientSecretCredential(
            settings.tenant_id, settings.client_id, settings.client_secret, **identity_options
        )
    else:
        inner = CertificateCredential(
            settings.tenant_id,
            settings.client_id,
            certificate_path=settings.client_certificate_path,
            **identity_options,
        )
    return RefreshableCredential(inner)
