-- Mark every run a crash left 'running' as 'interrupted' (before a new run starts).
-- No parameters.
UPDATE runs SET status = 'interrupted' WHERE status = 'running'
