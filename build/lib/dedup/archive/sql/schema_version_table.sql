-- One row: how many tables are named schema_version (0 in an empty database, else 1).
-- No parameters.
SELECT count(*) FROM information_schema.tables WHERE table_name = 'schema_version'
