-- Add one committed batch to its run's counters (one runs row). $1 = inputs seen,
-- $2 = new instances, $3 = bytes of new instances, $4 = recognised copies,
-- $5 = quarantined, $6 = skipped as unchanged, $7 = run id.
UPDATE runs
SET files = files + $1, instances = instances + $2, bytes = bytes + $3,
    recognised = recognised + $4, quarantined = quarantined + $5, skipped = skipped + $6
WHERE run_id = $7
