-- One row: how many studies fell back to a family no mapping row matched. No parameters.
SELECT count(*) FROM study_procedures WHERE NOT known
