-- Records one check (one row of `checks`; no rows returned). Parameters, in order: the 14
-- columns below.
INSERT INTO checks (check_id, asked_at, client, channel, patient_pseudonym, family, modality,
                    order_date, within_days, institution, n_priors, prior_study_uids,
                    recommendation, latency_ms)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
