-- Record which instances of the queued studies (view match_queue: study_key) are copies of
-- another instance of their study (view instance_copies: instance_key, source_key), clearing
-- what an earlier matching of those studies recorded. Run in its own transaction before the
-- studies' pairs are verified.
UPDATE instances SET copy_of = NULL
WHERE study_key IN (SELECT study_key FROM match_queue) AND copy_of IS NOT NULL;

UPDATE instances SET copy_of = c.source_key
FROM instance_copies AS c
WHERE instances.instance_key = c.instance_key;
