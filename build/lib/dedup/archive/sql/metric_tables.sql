-- The tables the archive (or its published snapshot) holds, one row per table.
SELECT table_name FROM information_schema.tables
