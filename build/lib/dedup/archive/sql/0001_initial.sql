-- dedup archive, schema version 1.
-- Surrogate keys come from sequences; natural keys (UIDs, locations) are UNIQUE.

-- One row per migration applied (this file is version 1).
CREATE TABLE schema_version (
    version     INTEGER PRIMARY KEY,
    name        VARCHAR NOT NULL,
    applied_at  TIMESTAMP NOT NULL
);

CREATE SEQUENCE run_ids START 1;
CREATE SEQUENCE patient_keys START 1;
CREATE SEQUENCE study_keys START 1;
CREATE SEQUENCE series_keys START 1;
CREATE SEQUENCE instance_keys START 1;

-- One row per batch run: what it did and how it ended.
CREATE TABLE runs (
    run_id       BIGINT PRIMARY KEY,
    command      VARCHAR NOT NULL,
    started_at   TIMESTAMP NOT NULL,
    ended_at     TIMESTAMP,
    status       VARCHAR NOT NULL,        -- running | ok | partial | failed | interrupted
    files        BIGINT DEFAULT 0,        -- inputs seen
    studies      BIGINT DEFAULT 0,        -- studies that received new instances
    series       BIGINT DEFAULT 0,
    instances    BIGINT DEFAULT 0,        -- new instances
    skipped      BIGINT DEFAULT 0,        -- unchanged since a previous run (path, size, mtime)
    recognised   BIGINT DEFAULT 0,        -- content already archived under another path or UID
    quarantined  BIGINT DEFAULT 0,
    bytes        BIGINT DEFAULT 0,        -- bytes of new instances
    errors       BIGINT DEFAULT 0,
    version      VARCHAR NOT NULL,
    host         VARCHAR
);

-- A patient is an (issuer, id) pair; the issuer defaults to the institution.
CREATE TABLE patients (
    patient_key  BIGINT PRIMARY KEY,
    issuer       VARCHAR NOT NULL,
    patient_id   VARCHAR NOT NULL,
    name         VARCHAR,
    birth_date   DATE,
    sex          VARCHAR,
    institution  VARCHAR,
    UNIQUE (issuer, patient_id)
);

CREATE TABLE studies (
    study_key      BIGINT PRIMARY KEY,
    study_uid      VARCHAR NOT NULL UNIQUE,
    patient_key    BIGINT NOT NULL,
    study_date     DATE,
    study_time     VARCHAR,
    accession      VARCHAR,
    description    VARCHAR,
    procedure_code VARCHAR,
    institution    VARCHAR,
    modalities     VARCHAR,               -- sorted, backslash-separated
    body_part      VARCHAR,
    n_series       INTEGER NOT NULL,
    n_instances    INTEGER NOT NULL,
    bytes          BIGINT NOT NULL,
    first_run      BIGINT NOT NULL,
    last_run       BIGINT NOT NULL
);

CREATE TABLE series (
    series_key     BIGINT PRIMARY KEY,
    series_uid     VARCHAR NOT NULL UNIQUE,
    study_key      BIGINT NOT NULL,
    modality       VARCHAR,
    series_number  INTEGER,
    description    VARCHAR,
    body_part      VARCHAR,
    n_instances    INTEGER NOT NULL
);

CREATE TABLE instances (
    instance_key    BIGINT PRIMARY KEY,
    sop_uid         VARCHAR NOT NULL UNIQUE,
    series_key      BIGINT NOT NULL,
    study_key       BIGINT NOT NULL,
    sop_class_uid   VARCHAR,
    transfer_syntax VARCHAR,
    instance_number INTEGER,
    rows            INTEGER,
    columns         INTEGER,
    frames          INTEGER,
    pixel_hash      BLOB,                 -- xxh3-128 of canonical decoded pixels
    phash           BLOB,                 -- 256-bit block-mean perceptual hash
    file_hash       BLOB NOT NULL,        -- xxh3-128 of the whole file
    bytes           BIGINT NOT NULL,
    location        VARCHAR NOT NULL,     -- where the first copy was read
    run_id          BIGINT NOT NULL
);

-- Every input ever seen, so unchanged files are skipped and copies are recognised.
CREATE TABLE files (
    location      VARCHAR PRIMARY KEY,    -- path, or zip path + '!' + member
    size          BIGINT NOT NULL,
    mtime         DOUBLE NOT NULL,
    file_hash     BLOB,
    instance_key  BIGINT,                 -- NULL when quarantined
    status        VARCHAR NOT NULL,       -- indexed | copy | quarantined
    run_id        BIGINT NOT NULL
);

-- Study signatures: MinHash over header tokens ('header') and instance pixel hashes ('pixel').
CREATE TABLE fingerprints (
    study_key  BIGINT NOT NULL,
    kind       VARCHAR NOT NULL,
    signature  BLOB NOT NULL,             -- little-endian uint32 x num_perm
    PRIMARY KEY (study_key, kind)
);

-- LSH band keys as rows: candidate pairs are an equi-join on (kind, band, band_key).
CREATE TABLE lsh_bands (
    study_key  BIGINT NOT NULL,
    kind       VARCHAR NOT NULL,
    band       SMALLINT NOT NULL,
    band_key   BIGINT NOT NULL
);

-- Inputs that could not be indexed. Sources are never touched; this is the list to fix.
CREATE TABLE quarantine (
    location     VARCHAR NOT NULL,
    reason       VARCHAR NOT NULL,
    detail       VARCHAR,
    size         BIGINT,
    first_run    BIGINT NOT NULL,
    last_run     BIGINT NOT NULL,
    PRIMARY KEY (location, reason)
);

CREATE TABLE settings (
    name   VARCHAR PRIMARY KEY,
    value  VARCHAR NOT NULL
);
