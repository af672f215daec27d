-- Turn off DuckDB's progress bar for this connection (long generator queries). No rows,
-- no parameters.
SET enable_progress_bar = false
