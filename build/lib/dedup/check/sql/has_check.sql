-- One row when the check with ID ? was logged, none otherwise.
SELECT 1 FROM checks WHERE check_id = ?
