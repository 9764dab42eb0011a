"""Configuration: environment variables (docs/configuration.md) and the room registry CSV."""

from roomcal_pipeline.config.registry import RegistryIssue, Room, load_registry, parse_registry
from roomcal_pipeline.config.settings import ConfigError, Settings

__all__ = ["ConfigError", "RegistryIssue", "Room", "Settings", "load_registry", "parse_registry"]
