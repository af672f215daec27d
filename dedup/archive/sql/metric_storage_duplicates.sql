-- Storage duplicates (every kind but `repeat`) per day, institution, modality, procedure
-- family and kind. bytes_reclaimable is set on one row per duplicate study (its best storage
-- match), so its sum never counts an instance twice; `studies` counts those rows (a study
-- with several matches once), `pairs` every matching pair.
-- day: the duplicate study's date (else the day it was detected).
-- Filtered by date and institution in dedup.metrics.filtered_sql (metric_filter.sql).
WITH events AS (
    SELECT
        coalesce(s.study_date, CAST(d.detected_at AS DATE))                AS day,
        coalesce(s.institution, 'unknown')                                  AS institution,
        coalesce(nullif(split_part(p.family, ' ', 1), ''),
                 nullif(split_part(s.modalities, '\', 1), ''), 'unknown')   AS modality,
        coalesce(p.family, 'unknown')                                       AS family,
        d.kind,
        d.bytes_reclaimable
    FROM duplicates AS d
    LEFT JOIN studies AS s USING (study_key)
    LEFT JOIN study_procedures AS p USING (study_key)
    WHERE d.kind <> 'repeat'
)
SELECT
    day, institution, modality, family, kind,
    count(*) FILTER (WHERE bytes_reclaimable > 0)  AS studies,
    count(*)                                        AS pairs,
    CAST(sum(bytes_reclaimable) AS BIGINT)          AS bytes_reclaimable
FROM events
GROUP BY ALL
