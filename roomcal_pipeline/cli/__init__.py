"""The `roomcal` command line (SPEC section 3)."""
