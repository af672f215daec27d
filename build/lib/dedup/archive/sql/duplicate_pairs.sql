-- One row per duplicate pair found: study_uid, duplicate_of_study_uid, kind (what the
-- evaluation judges against its labels). No parameters.
SELECT study_uid, duplicate_of_study_uid, kind FROM duplicates
