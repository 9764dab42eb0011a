"""The roomcal resource: docs/configuration.md settings, resolved when a run starts (never at import)."""

import dataclasses
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import psycopg
from dagster import ConfigurableResource, Failure, InitResourceContext
from pydantic import Field, PrivateAttr

from roomcal_pipeline.config.registry import Room
from roomcal_pipeline.config.settings import ConfigError, Settings
from roomcal_pipeline.graph.client import GraphClient, RetryPolicy
from roomcal_pipeline.graph.preflight import (
    GraphPreflightError,
    build_credential,
    check_endpoint,
    check_graph,
    selection_problem,
)
from roomcal_pipeline.warehouse.database import resolve_database_url
from roomcal_pipeline.warehouse.rooms import read_rooms
from roomcal_pipeline.warehouse.schema import migrate

# Metadata of a Failure that is a configuration error: the CLI prints its description as
# its one line and exits 2.
CONFIGURATION_ERROR = "roomcal_configuration_error"


def configuration_failure(message: str) -> Failure:
    """A step failure for a configuration error: one line, and no retry (retrying a wrong
    setting only delays the message)."""
    return Failure(message, metadata={CONFIGURATION_ERROR: True}, allow_retries=False)


class _CheckedGraphClient(GraphClient):
    """A GraphClient that first runs the run's Graph preflight (`before`), so that a step
    meets an unreachable Graph or a rejected credential in seconds, not after minutes of
    retries per request. The preflight raises GraphPreflightError, a GraphRequestError."""

    def __init__(self, *args: Any, before, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._before = before

    async def __aenter__(self) -> GraphClient:
        try:
            await self._before(self._credential)
        except BaseException:
            close = getattr(self._credential, "close", None)
            if close is not None:
                await close()
            raise
        return await super().__aenter__()


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
    # The run's Graph preflight: None (not yet), "endpoint" (the light check passed),
    # "rooms" (the room check passed); a failed one is kept and raised again.
    _graph_checked: str | None = PrivateAttr(default=None)
    _graph_problem: GraphPreflightError | None = PrivateAttr(default=None)

    def setup_for_execution(self, context: InitResourceContext) -> None:
        self._graph_checked = None
        self._graph_problem = None

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
        """A Graph client; entering it runs the light preflight unless a check already ran
        in this run, and raises GraphPreflightError at once if one failed."""
        settings = self.settings()
        return _CheckedGraphClient(
            settings.graph_base_url,
            build_credential(settings),
            page_size=self.page_size,
            max_concurrency=self.max_concurrent_requests,
            retry=RetryPolicy(backoff_base_seconds=self.retry_backoff_seconds),
            before=self._preflight,
        )

    async def _preflight(self, credential: Any, emails: Sequence[str] | None = None) -> None:
        """The run's Graph preflight with `credential`: the room check when `emails` are
        given, else the light endpoint check; each at most once per run."""
        if self._graph_problem is not None:
            raise self._graph_problem
        if self._graph_checked == "rooms" or (emails is None and self._graph_checked):
            return
        settings = self.settings()
        try:
            if emails is None:
                await check_endpoint(settings, credential)
                self._graph_checked = "endpoint"
            else:
                await check_graph(settings, emails, credential)
                self._graph_checked = "rooms"
        except GraphPreflightError as exc:
            self._graph_problem = exc
            raise

    def check_graph(self, emails: Sequence[str]) -> None:
        """The Graph preflight before extracting `emails` (registered room emails, the
        first tried first): a configuration Failure, one line and no retry, when Graph
        is unreachable, rejects the credential or lacks the permission."""
        from roomcal_pipeline.defs.interrupts import run_interruptibly

        async def run() -> None:
            credential = build_credential(self.settings())
            try:
                await self._preflight(credential, [e for e in emails if e])
            finally:
                close = getattr(credential, "close", None)
                if close is not None:
                    await close()

        try:
            run_interruptibly(run())
        except ConfigError as exc:  # GraphPreflightError, or credentials missing
            raise configuration_failure(str(exc)) from None

    def selected_rooms(self, selection: Sequence[str] | None) -> list[Room]:
        """The registered rooms to work on (all, or those `selection` names by email or
        registry key); a configuration Failure, one line and no retry, when the selection
        names a room that is not registered or there is no room."""
        with self.connect() as conn:
            rooms = read_rooms(conn, selection or None)
        problem = selection_problem(
            selection,
            rooms,
            "the room selection (config rooms)",
            empty="no registered room in raw.rooms: materialize raw/rooms (roomcal run) "
            "with a registry (ROOMCAL_ROOMS_FILE) that lists rooms",
        )
        if problem:
            raise configuration_failure(problem)
        return rooms
