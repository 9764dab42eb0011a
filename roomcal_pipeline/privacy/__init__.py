"""The privacy allowlist (docs/privacy.md): the one gate every event passes before it goes anywhere."""

from roomcal_pipeline.privacy.allowlist import (
    GRAPH_SELECT_FIELDS,
    STORED_EVENT_FIELDS,
    filter_event,
)

__all__ = ["GRAPH_SELECT_FIELDS", "STORED_EVENT_FIELDS", "filter_event"]
