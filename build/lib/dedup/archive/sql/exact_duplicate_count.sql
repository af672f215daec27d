-- One row: how many exact duplicate rows the archive holds. No parameters.
SELECT count(*) FROM duplicates WHERE kind = 'exact'
