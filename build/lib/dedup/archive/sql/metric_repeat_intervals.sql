-- Days between each repeat and the prior it repeats, with the repeat's procedure family,
-- institution and date (one row per repeat pair). Filtered by metric_filter.sql.
-- Parameters: $start, $end (DATE, NULL = open), $institutions (VARCHAR[], NULL = all).
WITH pairs AS (
    SELECT
        s.study_date                                        AS day,
        coalesce(s.institution, 'unknown')                  AS institution,
        coalesce(p.family, 'unknown')                       AS family,
        prior.institution = s.institution                   AS same_institution,
        date_diff('day', prior.study_date, s.study_date)    AS days_apart
    FROM duplicates AS d
    JOIN studies AS s ON s.study_key = d.study_key
    JOIN studies AS prior ON prior.study_key = d.duplicate_of_study_key
    LEFT JOIN study_procedures AS p ON p.study_key = d.study_key
    WHERE d.kind = 'repeat'
)
SELECT family, institution, same_institution, day, days_apart
FROM pairs
WHERE {metric_filter}
ORDER BY family, day
