-- Pre-order checks per day, institution, modality, procedure family and outcome.
-- A check's outcome is its latest recorded decision: 'withdrawn' (an avoided repeat) or
-- 'ordered-anyway'; 'pending' while none is recorded.
-- day: the planned exam date (order_date), else the day the check was asked.
-- modality: the family's modality group (first word of the family), else the check's modality.
-- Filtered by metric_filter.sql.
-- Parameters: $start, $end (DATE, NULL = open), $institutions (VARCHAR[], NULL = all).
WITH latest AS (
    SELECT check_id, arg_max(outcome, decided_at) AS outcome
    FROM outcomes
    GROUP BY check_id
),
events AS (
    SELECT
        coalesce(c.order_date, CAST(c.asked_at AS DATE))                  AS day,
        coalesce(c.institution, 'unknown')                                 AS institution,
        coalesce(nullif(split_part(c.family, ' ', 1), ''), c.modality, 'unknown') AS modality,
        coalesce(c.family, 'unknown')                                      AS family,
        coalesce(l.outcome, 'pending')                                     AS outcome
    FROM checks AS c
    LEFT JOIN latest AS l USING (check_id)
)
SELECT day, institution, modality, family, outcome, count(*) AS checks
FROM events
WHERE {metric_filter}
GROUP BY ALL
ORDER BY ALL
