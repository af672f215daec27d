-- The date-range and institution filter of every metric query. The placeholder below is
-- replaced by a named metric_* query grouped by day and institution (among other keys).
-- Parameters: $start, $end (DATE, NULL = open), $institutions (VARCHAR[], NULL = all).
SELECT *
FROM ({query}) AS metric
WHERE day BETWEEN coalesce(CAST($start AS DATE), DATE '0001-01-01')
              AND coalesce(CAST($end AS DATE), DATE '9999-12-31')
  AND (CAST($institutions AS VARCHAR[]) IS NULL
       OR list_contains(CAST($institutions AS VARCHAR[]), institution))
ORDER BY ALL
