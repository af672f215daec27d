-- The date-range and institution filter of every metric query: a condition on the `day` and
-- `institution` columns of the rows it filters. A metric query names it in its WHERE clause
-- (the file name in braces); dedup.metrics.filtered_sql puts this condition in its place.
-- Parameters: $start, $end (DATE, NULL = open), $institutions (VARCHAR[], NULL = all).
day BETWEEN coalesce(CAST($start AS DATE), DATE '0001-01-01')
        AND coalesce(CAST($end AS DATE), DATE '9999-12-31')
AND (CAST($institutions AS VARCHAR[]) IS NULL
     OR list_contains(CAST($institutions AS VARCHAR[]), institution))
