-- One row: what the archive holds of the service's check log already (no parameters). The
-- newest folded check and outcome (NULL when none) and the row counts of both tables.
SELECT (SELECT max(asked_at) FROM checks) AS newest_check,
       (SELECT count(*) FROM checks) AS checks,
       (SELECT max(decided_at) FROM outcomes) AS newest_outcome,
       (SELECT count(*) FROM outcomes) AS outcomes
