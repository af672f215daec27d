-- Metadata-only synthetic archive (dedup/synth/metadata.py), step 1: one patient row per
-- invented person, and a second record (the name spelled as another site would) for a
-- share of them. Named parameters: $persons = people, $seed, $share = share of people with
-- a second record, $families and $given = name word lists, $issuers and $institutions =
-- the three sites (issuer codes and names, in the same order).
INSERT INTO patients
WITH hashed AS (
    SELECT i AS person, hash(i, $seed) AS h FROM range($persons) AS t(i)
),
people AS (
    SELECT person, h,
           $families[1 + (h % len($families)::UBIGINT)::INTEGER] AS fam,
           $given[1 + (h // 32 % len($given)::UBIGINT)::INTEGER] AS giv,
           DATE '1930-01-01' + (h // 1024 % 32000)::INTEGER AS born,
           CASE WHEN h // 32768000 % 2 = 0 THEN 'M' ELSE 'F' END AS sex
    FROM hashed
),
records AS (
    SELECT person, 0 AS copy, (h // 131072000 % 3)::INTEGER AS site, fam || '^' || giv AS name,
           born, sex
    FROM people
    UNION ALL
    SELECT person, 1, ((h // 131072000 % 3 + 1) % 3)::INTEGER,
           fam[1] || lower(fam[2:]) || '^' || giv[1] || lower(giv[2:]) || '^J', born, sex
    FROM people
    WHERE (h // 65536000 % 1000) < $share * 1000
)
SELECT row_number() OVER (ORDER BY person, copy) AS patient_key,
       $issuers[site + 1] AS issuer,
       $issuers[site + 1] || '-' || person AS patient_id,
       name, born, sex,
       $institutions[site + 1] AS institution
FROM records
