-- DuckDB settings for reading a snapshot into the check index (no rows): no progress bar,
-- and $threads threads for its queries (an INTEGER, or NULL to keep the connection's number;
-- a server rebuilding in the background uses one).
SET enable_progress_bar = false;
SET threads = coalesce($threads, current_setting('threads'));
