-- One row per stored archive setting (the signature parameters num_perm and lsh_bands):
-- name, value. No parameters.
SELECT name, value FROM settings
