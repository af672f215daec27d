-- Patient-level duplicate pairs for the drill-down. Returns raw identifiers: dedup.metrics
-- masks them before anything leaves the module, and only when the drill-down is enabled.
-- Parameters: $start, $end (DATE, NULL = open), $institutions (VARCHAR[], NULL = all), $limit.
SELECT
    d.kind,
    coalesce(s.study_date, CAST(d.detected_at AS DATE))  AS day,
    coalesce(s.institution, 'unknown')                   AS institution,
    coalesce(p.family, 'unknown')                        AS family,
    pat.patient_id,
    d.study_uid,
    d.duplicate_of_study_uid,
    prior.study_date                                     AS prior_date,
    d.score,
    d.bytes_reclaimable
FROM duplicates AS d
LEFT JOIN studies AS s ON s.study_key = d.study_key
LEFT JOIN studies AS prior ON prior.study_key = d.duplicate_of_study_key
LEFT JOIN patients AS pat ON pat.patient_key = s.patient_key
LEFT JOIN study_procedures AS p ON p.study_key = d.study_key
WHERE coalesce(s.study_date, CAST(d.detected_at AS DATE))
          BETWEEN coalesce(CAST($start AS DATE), DATE '0001-01-01')
              AND coalesce(CAST($end AS DATE), DATE '9999-12-31')
  AND (CAST($institutions AS VARCHAR[]) IS NULL
       OR list_contains(CAST($institutions AS VARCHAR[]), coalesce(s.institution, 'unknown')))
ORDER BY day DESC, kind, d.study_uid
LIMIT $limit
