-- Storage duplicates (every kind but `repeat`) per day, institution, modality, procedure
-- family and kind. bytes_reclaimable is set on one row per duplicate study (its best storage
-- match), so its sum never counts an instance twice; `studies` counts those rows (a study
-- with several matches once), `pairs` every matching pair.
-- day: the duplicate study's date (else the day it was detected). Placed by
-- metric_duplicate_events.sql, filtered by metric_filter.sql.
-- Parameters: $start, $end (DATE, NULL = open), $institutions (VARCHAR[], NULL = all).
SELECT
    day, institution, modality, family, kind,
    count(*) FILTER (WHERE bytes_reclaimable > 0)  AS studies,
    count(*)                                        AS pairs,
    CAST(sum(bytes_reclaimable) AS BIGINT)          AS bytes_reclaimable
FROM ({metric_duplicate_events}) AS events
WHERE kind <> 'repeat'
  AND {metric_filter}
GROUP BY ALL
ORDER BY ALL
