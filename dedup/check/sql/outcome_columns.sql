-- The column names of the log's `outcomes` table, one row each (no parameters).
SELECT name FROM pragma_table_info('outcomes')
