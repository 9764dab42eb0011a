"""The small glue between Great Expectations 1.x and roomcal (dagster-ge supports only GX < 1).

Suites run in PostgreSQL through GX's SQL datasource, so a partition of any size is
validated where it lives, with flat memory. Outcomes keep what is safe to show in
Dagster metadata: the expectation, its column, counts and sample keys (room email and
event id). GX's value lists are never kept: they could carry an attribute's value.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from psycopg.conninfo import conninfo_to_dict
from sqlalchemy.engine import URL

SAMPLE_KEYS = 20


@dataclass
class ExpectationOutcome:
    expectation: str  # e.g. expect_column_values_to_be_in_set(show_as)
    success: bool
    unexpected_count: int = 0
    sample_keys: list[dict[str, str]] = field(default_factory=list)
    observed: Any = None  # only for table-level expectations (counts, column names)
    all_keys: list[dict[str, str]] = field(default_factory=list, repr=False)  # complete=True only


@dataclass
class SuiteOutcome:
    suite: str
    outcomes: list[ExpectationOutcome]

    @property
    def success(self) -> bool:
        return all(o.success for o in self.outcomes)

    @property
    def failed(self) -> list[ExpectationOutcome]:
        return [o for o in self.outcomes if not o.success]

    def metadata(self) -> dict[str, Any]:
        return {
            "suite": self.suite,
            "expectations": len(self.outcomes),
            "failed_expectations": [
                {
                    "expectation": o.expectation,
                    "unexpected_count": o.unexpected_count,
                    "sample_keys": o.sample_keys,
                    **({"observed": o.observed} if o.observed is not None else {}),
                }
                for o in self.failed
            ],
        }


def sqlalchemy_url(database_url: str) -> str:
    """A psycopg2 SQLAlchemy URL for GX from a libpq URL or keyword string (socket hosts too)."""
    params = conninfo_to_dict(database_url)
    host = str(params.get("host") or "localhost")
    socket = host.startswith("/")
    url = URL.create(
        "postgresql+psycopg2",
        username=params.get("user"),
        password=params.get("password") or None,
        host=None if socket else host,
        port=None if socket else int(params.get("port") or 5432),
        database=params.get("dbname"),
        query={"host": host, **({"port": str(params["port"])} if params.get("port") else {})}
        if socket
        else {},
    )
    return url.render_as_string(hide_password=False)


def _label(config) -> str:
    kwargs = config.kwargs
    target = kwargs.get("column") or kwargs.get("column_list") or kwargs.get("column_A")
    if isinstance(target, list):
        target = ",".join(target)
    if kwargs.get("column_B"):
        target = f"{target}>{kwargs['column_B']}"
    return f"{config.type}({target})" if target else config.type


def validate_query(
    database_url: str,
    suite_name: str,
    query: str,
    expectations: list,
    key_columns: list[str],
    complete: bool = False,
) -> SuiteOutcome:
    """Validate the rows of one SQL query against a list of GX expectations."""
    import great_expectations as gx

    logging.getLogger("great_expectations").setLevel(logging.WARNING)
    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = {"globally": False, "metric_calculations": False}
    # The generic SQL datasource: GX's Postgres one rejects URLs whose host is a socket folder.
    source = context.data_sources.add_sql(
        "warehouse", connection_string=sqlalchemy_url(database_url)
    )
    batch = source.add_query_asset(suite_name, query=query).add_batch_definition_whole_table(
        "window"
    )
    suite = gx.ExpectationSuite(name=suite_name, expectations=expectations)
    result = batch.get_batch().validate(
        suite,
        result_format={
            "result_format": "COMPLETE" if complete else "SUMMARY",
            "unexpected_index_column_names": key_columns,
            "partial_unexpected_count": SAMPLE_KEYS,
            "return_unexpected_index_query": False,
        },
    )
    outcomes = []
    for item in result.results:
        details = item.result or {}
        index_rows = details.get(
            "unexpected_index_list" if complete else "partial_unexpected_index_list"
        )
        keys = [
            {k: str(row.get(k)) for k in key_columns}
            for row in (index_rows or [])
            if isinstance(row, dict)
        ]
        observed = details.get("observed_value")
        outcomes.append(
            ExpectationOutcome(
                expectation=_label(item.expectation_config),
                success=bool(item.success),
                unexpected_count=int(details.get("unexpected_count") or 0),
                sample_keys=keys[:SAMPLE_KEYS],
                all_keys=keys if complete else [],
                observed=observed if isinstance(observed, (int, float, list)) else None,
            )
        )
    return SuiteOutcome(suite_name, outcomes)
