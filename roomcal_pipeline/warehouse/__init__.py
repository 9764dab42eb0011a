"""The warehouse: where events land (PostgreSQL, a server or the embedded one)."""
