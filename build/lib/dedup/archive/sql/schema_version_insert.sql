-- Record one applied migration. $1 = version, $2 = migration name (file name without .sql).
INSERT INTO schema_version VALUES ($1, $2, now())
