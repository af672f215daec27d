-- `dedup quarantine`: one row per quarantined input and reason: location, reason, detail,
-- size, first_run, last_run. $1 = run id (only inputs that run saw) or NULL (all).
SELECT location, reason, detail, size, first_run, last_run
FROM quarantine
WHERE $1 IS NULL OR last_run = $1
ORDER BY location, reason
