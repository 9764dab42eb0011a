"""The `roomcal` command line (docs/configuration.md)."""
