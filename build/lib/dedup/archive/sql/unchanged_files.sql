-- One row per walked input (view walk_chunk: location, size, mtime) already committed with
-- the same size and modification time: location. No parameters.
SELECT w.location
FROM walk_chunk AS w
JOIN files AS f ON f.location = w.location AND f.size = w.size AND f.mtime = w.mtime
