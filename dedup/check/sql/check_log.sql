-- The check log's SQLite schema (no rows; no parameters), run each time a log is opened:
-- write-ahead logging so several processes (the server, `dedup check`) may write at once.
-- `checks` holds one row per check answered, `outcomes` one row per decision recorded after
-- a check: decided_at is the server's clock when it was stored (it orders a check's
-- outcomes), reported_at the time the caller reported, as reported. No name, ID or birth
-- date: the patient is a keyed pseudonym. (A log made before reported_at existed gets it from
-- outcome_reported_at.sql.)
PRAGMA journal_mode = WAL;
PRAGMA synchronous = NORMAL;

CREATE TABLE IF NOT EXISTS checks (
    check_id TEXT PRIMARY KEY, asked_at TEXT NOT NULL, client TEXT NOT NULL,
    channel TEXT NOT NULL, patient_pseudonym TEXT NOT NULL, family TEXT, modality TEXT,
    order_date TEXT, within_days INTEGER, institution TEXT, n_priors INTEGER NOT NULL,
    prior_study_uids TEXT NOT NULL, recommendation TEXT NOT NULL, latency_ms REAL);
CREATE INDEX IF NOT EXISTS checks_asked_at ON checks (asked_at);

CREATE TABLE IF NOT EXISTS outcomes (
    check_id TEXT NOT NULL, decided_at TEXT NOT NULL, outcome TEXT NOT NULL, reason TEXT,
    client TEXT NOT NULL, channel TEXT NOT NULL, reported_at TEXT,
    PRIMARY KEY (check_id, decided_at));
CREATE INDEX IF NOT EXISTS outcomes_decided_at ON outcomes (decided_at);
