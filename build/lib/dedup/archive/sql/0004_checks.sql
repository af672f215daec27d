-- dedup archive, schema version 4: pre-order checks and what schedulers decided.
-- The check service writes to a store it owns (the archive is the batch's); the nightly
-- batch folds those rows in here, idempotently by primary key.

CREATE TABLE checks (
    check_id           VARCHAR PRIMARY KEY,   -- UUID returned to the caller
    asked_at           TIMESTAMP NOT NULL,
    client             VARCHAR NOT NULL,      -- who asked: token name or CDS client
    channel            VARCHAR NOT NULL,      -- cli | http | cds-hooks
    patient_pseudonym  VARCHAR NOT NULL,      -- keyed hash of normalised demographics, never PHI
    family             VARCHAR,               -- procedure family asked about
    modality           VARCHAR,
    order_date         DATE,
    within_days        INTEGER,
    institution        VARCHAR,               -- the ordering institution, when known
    n_priors           INTEGER NOT NULL,
    prior_study_uids   VARCHAR NOT NULL,      -- JSON list of StudyInstanceUIDs returned
    recommendation     VARCHAR NOT NULL,
    latency_ms         DOUBLE
);

CREATE TABLE outcomes (
    check_id    VARCHAR NOT NULL,
    decided_at  TIMESTAMP NOT NULL,
    outcome     VARCHAR NOT NULL,             -- withdrawn | ordered-anyway
    reason      VARCHAR,                      -- override reason when ordered anyway
    client      VARCHAR NOT NULL,
    channel     VARCHAR NOT NULL,             -- http | cds-hooks | cli
    PRIMARY KEY (check_id, decided_at)
);
