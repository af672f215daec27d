-- Studies to ask the check about (dedup/synth/metadata.py, the check benchmark): one row
-- per sampled study, at most $count, in hash order: name, birth_date, sex, family,
-- study_date. A study is sampled when its hash falls on every n-th value, n chosen so that
-- about 4 x $count studies qualify. Named parameters: $seed, $count.
SELECT p.name, p.birth_date, p.sex, sp.family, s.study_date
FROM studies AS s
JOIN patients AS p USING (patient_key)
JOIN study_procedures AS sp USING (study_key)
WHERE hash(s.study_key, $seed)
      % greatest(1, (SELECT count(*) FROM studies) // ($count * 4)) = 0
ORDER BY hash(s.study_key, $seed)
LIMIT $count
