"""Credentials for Graph: azure-identity (secret or certificate) or a fixed token."""

from __future__ import annotations

import time

from azure.core.credentials import AccessToken

from roomcal_pipeline.config.settings import Settings


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
    """Wraps an azure-identity credential so that a 401 can ask for a new token.

    azure-identity caches a token until shortly before it expires; a token that Graph
    rejects earlier (revoked, clock skew, a tenant policy change) would be handed out
    again. After `invalidate()` the next `get_token` asks for a fresh one (passing
    `claims`, which azure-identity honours by bypassing its cache).
    """

    def __init__(self, inner) -> None:
        self._inner = inner
        self._stale = False

    async def get_token(self, *scopes: str, **kwargs) -> AccessToken:
        if self._stale:
            self._stale = False
            # kiota passes claims=None when there is no challenge: replace, not setdefault.
            kwargs["claims"] = kwargs.get("claims") or '{"access_token":{}}'
        return await self._inner.get_token(*scopes, **kwargs)

    async def invalidate(self) -> None:
        self._stale = True

    async def close(self) -> None:
        await self._inner.close()


def credential_from_settings(settings: Settings):
    """The credential SPEC section 3 asks for: fixed token first, then azure-identity."""
    settings.require_graph_credentials()
    if settings.graph_token:
        return StaticTokenCredential(settings.graph_token)
    from azure.identity.aio import CertificateCredential, ClientSecretCredential

    if settings.client_secret:
        return ClientSecretCredential(
            settings.tenant_id, settings.client_id, settings.client_secret
        )
    return CertificateCredential(
        settings.tenant_id, settings.client_id, certificate_path=settings.client_certificate_path
    )
