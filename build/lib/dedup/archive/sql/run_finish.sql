-- Close one run. $1 = final status, $2 = distinct studies, $3 = distinct series that
-- received new instances, $4 = run id.
UPDATE runs SET ended_at = now(), status = $1, studies = $2, series = $3
WHERE run_id = $4
