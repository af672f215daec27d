-- Metadata-only synthetic archive, step 3: the temporary table synthetic_families, one row
-- per study to generate (studies per patient record x records) with its key, UID, procedure
-- family and date. Named parameters: $per = studies per record, $seed, $first = first study
-- date, $span = days the dates spread over, $families = procedure families to draw from,
-- $mapping = the family mapping version recorded with each study.
CREATE TEMP TABLE synthetic_families AS
SELECT *,
       '1.2.826.0.1.3680043.8.498.' || (hash(study_key, $seed) % 1000000000000000)
           || '.' || study_key AS study_uid,
       $mapping AS mapping
FROM (
    SELECT p.patient_key, p.institution,
           row_number() OVER (ORDER BY p.patient_key, k) AS study_key,
           $families[1 + (hash(p.patient_key, k, $seed)
                          % len($families)::UBIGINT)::INTEGER] AS family,
           $first + (hash(p.patient_key, k, $seed, 9) % $span)::INTEGER AS study_date
    FROM patients AS p, range($per) AS t(k)
)
