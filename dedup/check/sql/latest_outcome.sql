-- The check with ID ? and its latest outcome: one row (client, outcome, reason, decided_at;
-- the last three NULL while no outcome is recorded), none when no such check was logged.
-- Latest: the newest stored time (the server's clock), then the row written last.
SELECT c.client, o.outcome, o.reason, o.decided_at
FROM checks AS c
LEFT JOIN outcomes AS o ON o.check_id = c.check_id
WHERE c.check_id = ?
ORDER BY o.decided_at DESC, o.rowid DESC
LIMIT 1
