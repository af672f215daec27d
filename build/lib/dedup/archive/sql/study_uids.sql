-- One row per archived study: study_uid. No parameters.
SELECT study_uid FROM studies
