-- Starts a write transaction at once (no rows; no parameters), so what is read inside it
-- stays true until it commits: no other process writes the log meanwhile.
BEGIN IMMEDIATE
