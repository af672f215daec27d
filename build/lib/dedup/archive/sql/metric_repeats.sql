-- Repeats that happened anyway: studies with a `repeat` row (a new acquisition of the same
-- patient and procedure family inside the look-back window), each counted once however many
-- priors it repeats, per day, institution, modality and procedure family.
-- day: the repeat's study date (else the first day it was detected); institution: where it
-- was done. Placed by metric_duplicate_events.sql, filtered by metric_filter.sql.
-- Parameters: $start, $end (DATE, NULL = open), $institutions (VARCHAR[], NULL = all).
WITH repeats AS (
    SELECT study_key, institution, modality, family,
           min(day)               AS day,
           any_value(study_bytes) AS bytes
    FROM ({metric_duplicate_events}) AS events
    WHERE kind = 'repeat'
    GROUP BY study_key, institution, modality, family
)
SELECT
    day, institution, modality, family,
    count(*)                    AS repeats,
    CAST(sum(bytes) AS BIGINT)  AS bytes
FROM repeats
WHERE {metric_filter}
GROUP BY ALL
ORDER BY ALL
