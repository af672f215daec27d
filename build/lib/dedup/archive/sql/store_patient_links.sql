-- Store the scored patient pairs (view scored_pairs: one row per compared pair, with run_id)
-- and mark the new records linked (view new_patients: patient_key, run_id). No parameters;
-- runs inside the caller's transaction.
INSERT OR REPLACE INTO patient_links BY NAME SELECT * FROM scored_pairs;
INSERT OR IGNORE INTO linked_patients SELECT patient_key, run_id FROM new_patients;
