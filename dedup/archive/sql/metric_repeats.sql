-- Repeats that happened anyway: studies with a `repeat` row (a new acquisition of the same
-- patient and procedure family inside the look-back window), each counted once however many
-- priors it repeats, per day, institution, modality and procedure family.
-- day: the repeat's study date (else the day it was detected); institution: where it was done.
-- Filtered by date and institution in dedup.metrics.filtered_sql (metric_filter.sql).
WITH repeats AS (
    SELECT study_key, min(detected_at) AS detected_at
    FROM duplicates
    WHERE kind = 'repeat'
    GROUP BY study_key
),
events AS (
    SELECT
        coalesce(s.study_date, CAST(r.detected_at AS DATE))                AS day,
        coalesce(s.institution, 'unknown')                                  AS institution,
        coalesce(nullif(split_part(p.family, ' ', 1), ''),
                 nullif(split_part(s.modalities, '\', 1), ''), 'unknown')   AS modality,
        coalesce(p.family, 'unknown')                                       AS family,
        coalesce(s.bytes, 0)                                                AS bytes
    FROM repeats AS r
    LEFT JOIN studies AS s USING (study_key)
    LEFT JOIN study_procedures AS p USING (study_key)
)
SELECT
    day, institution, modality, family,
    count(*)                    AS repeats,
    CAST(sum(bytes) AS BIGINT)  AS bytes
FROM events
GROUP BY ALL
