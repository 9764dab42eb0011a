"""The roomcal resource: SPEC section 3 settings, resolved when a run starts (never at import)."""

import dataclasses
from pathlib import Path

import psycopg
from dagster import ConfigurableResource
from pydantic import Field, PrivateAttr

from roomcal_pipeline.config.settings import Settings
from roomcal_pipeline.graph.client import GraphClient, RetryPolicy
from roomcal_pipeline.graph.credentials import credential_from_settings
from roomcal_pipeline.warehouse.database import resolve_database_url
from roomcal_pipeline.warehouse.schema import migrate


class RoomcalResource(ConfigurableResource):
    """Each field, when set, overrides its environment variable (for example with
    `EnvVar("AZURE_CLIENT_SECRET")` in a deployment); unset fields read the environment."""

    database_url: str | None = Field(default=None, description="ROOMCAL_DATABASE_URL")
    graph_base_url: str | None = Field(default=None, description="ROOMCAL_GRAPH_BASE_URL")
    graph_token: str | None = Field(default=None, description="ROOMCAL_GRAPH_TOKEN")
    rooms_file: str | None = Field(default=None, description="ROOMCAL_ROOMS_FILE")
    data_dir: str | None = Field(default=None, description="ROOMCAL_DATA_DIR")
    room_concurrency: int = Field(default=8, description="rooms extracted at once")
    max_concurrent_requests: int = Field(default=16, description="Graph requests in flight")
    page_size: int = Field(default=500, description="events per Graph page (odata.maxpagesize)")
    retry_backoff_seconds: float = Field(
        default=1.0, description="first backoff without Retry-After"
    )

    _url: str | None = PrivateAttr(default=None)

    def settings(self) -> Settings:
        base = Settings.from_env()
        overrides = {
            "database_url": self.database_url,
            "graph_base_url": self.graph_base_url.rstrip("/") if self.graph_base_url else None,
            "graph_token": self.graph_token,
            "rooms_file": Path(self.rooms_file) if self.rooms_file else None,
            "data_dir": Path(self.data_dir) if self.data_dir else None,
        }
        return dataclasses.replace(base, **{k: v for k, v in overrides.items() if v is not None})

    def warehouse_url(self) -> str:
        """The warehouse URL (starting the embedded server if needed), migrated once per process."""
        if self._url is None:
            settings = self.settings()
            url = resolve_database_url(settings.database_url, settings.data_dir)
            with psycopg.connect(url) as conn:
                migrate(conn)
            self._url = url
        return self._url

    def connect(self) -> psycopg.Connection:
        return psycopg.connect(self.warehouse_url())

    def graph_client(self) -> GraphClient:
        settings = self.settings()
        return GraphClient(
            settings.graph_base_url,
            credential_from_settings(settings),
            page_size=self.page_size,
            max_concurrency=self.max_concurrent_requests,
            retry=RetryPolicy(backoff_base_seconds=self.retry_backoff_seconds),
        )
