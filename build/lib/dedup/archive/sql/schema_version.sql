-- One row: the newest migration applied (0 when none). No parameters.
SELECT coalesce(max(version), 0) FROM schema_version
