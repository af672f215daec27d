-- One study by StudyInstanceUID, as a prior's link in a CDS card shows it: what, when, where
-- from, and where the images are. No patient columns.
SELECT s.study_uid,
       s.study_date,
       s.institution,
       s.description,
       s.modalities,
       sp.family,
       s.n_series,
       s.n_instances,
       (SELECT min(i.location) FROM instances AS i WHERE i.study_key = s.study_key)
           AS first_instance_location
FROM studies AS s
LEFT JOIN study_procedures AS sp USING (study_key)
WHERE s.study_uid = ?
