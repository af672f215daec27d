-- Quarantined inputs per run (the last run that saw them) and reason: counts and sizes only,
-- never locations (paths can carry names or IDs).
SELECT
    last_run                                   AS run_id,
    reason,
    count(*)                                   AS inputs,
    CAST(coalesce(sum(size), 0) AS BIGINT)     AS bytes
FROM quarantine
GROUP BY ALL
ORDER BY run_id DESC, inputs DESC, reason
