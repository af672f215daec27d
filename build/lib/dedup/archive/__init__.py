"""The DuckDB archive: one door (db), migrations (schema), batch writes (writer), snapshots."""
