-- Store the procedure family of each classified study (view new_families: study_key, family,
-- known, rule, mapping, region, laterality), replacing a family from another mapping
-- version. No parameters.
INSERT OR REPLACE INTO study_procedures BY NAME SELECT * FROM new_families
