-- Patient-level duplicate pairs for the drill-down, one row per duplicates row, newest first.
-- Returns raw identifiers: dedup.metrics masks them before anything leaves the module, and
-- only when the drill-down is enabled. Placed by metric_duplicate_events.sql, filtered by
-- metric_filter.sql.
-- Parameters: $start, $end (DATE, NULL = open), $institutions (VARCHAR[], NULL = all), $limit.
WITH pairs AS (
    SELECT
        events.kind,
        events.day,
        events.institution,
        events.family,
        pat.patient_id,
        events.study_uid,
        events.duplicate_of_study_uid,
        prior.study_date                                 AS prior_date,
        events.score,
        events.bytes_reclaimable
    FROM ({metric_duplicate_events}) AS events
    LEFT JOIN studies AS prior ON prior.study_key = events.duplicate_of_study_key
    LEFT JOIN patients AS pat ON pat.patient_key = events.patient_key
)
SELECT *
FROM pairs
WHERE {metric_filter}
ORDER BY day DESC, kind, study_uid
LIMIT $limit
