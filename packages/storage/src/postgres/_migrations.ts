/**
 * @module The PostgreSQL schema, as an ordered list of migrations. Migration N makes the same change as the
 * SQLite driver's migration N (../sqlite/_migrations.ts), in PostgreSQL's dialect: bigint identity keys,
 * bytea for binary hashes, jsonb for JSON (json where its text must come back as written). A database records
 * the ones it has in `schema_migrations`. Never edit a released migration: append a new one, here and in
 * SQLite's list, with the same number.
 *
 * Text columns that are sorted or compared use the "C" collation: byte order, as SQLite compares text, so
 * both drivers list names, paths and aliases in the same order whatever the database's locale.
 * Timestamps stay ISO-8601 text, as the interface hands them over: they come back exactly as given.
 */

/**
 * What every version, run and code patch refers to: the roots of garbage collection. Made by migration 4 and
 * again by migration 10, which changes the columns it reads.
 */
const LIVE_CONTENT_VIEW = `  CREATE VIEW live_content (sha256) AS
    SELECT sha256 FROM version_files
    UNION
    SELECT code ->> 'patch' FROM versions WHERE code ->> 'patch' IS NOT NULL
    UNION
    SELECT sha256 FROM run_artifacts
    UNION
    SELECT sha256 FROM run_lock_files
    UNION
    SELECT code ->> 'patch' FROM runs WHERE code ->> 'patch' IS NOT NULL;
`;

export const MIGRATIONS: readonly string[] = [
  // 1: artifacts, versions and their parts, aliases and their history, the audit log.
  `
  CREATE TABLE artifacts (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name text COLLATE "C" NOT NULL UNIQUE,
    type text NOT NULL CHECK (type IN ('model', 'dataset')),
    created_at text COLLATE "C" NOT NULL
  );

  CREATE TABLE versions (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    artifact_id bigint NOT NULL REFERENCES artifacts (id),
    version text COLLATE "C" NOT NULL,
    seq bigint NOT NULL CHECK (seq >= 1),
    created_at text COLLATE "C" NOT NULL,
    created_by text NOT NULL,
    params jsonb NOT NULL,
    notes text NOT NULL DEFAULT '',
    code jsonb,
    environment jsonb,
    run text,
    -- The numeric core of the semver string, so the highest version is found through an index instead of
    -- by parsing every version of an artifact (only the prereleases of the top MAJOR.MINOR.PATCH are compared).
    major bigint NOT NULL,
    minor bigint NOT NULL,
    patch bigint NOT NULL,
    UNIQUE (artifact_id, version),
    UNIQUE (artifact_id, seq)
  );
  CREATE INDEX versions_precedence ON versions (artifact_id, major, minor, patch, seq);
  -- Lineage from a run back to the versions it produced.
  CREATE INDEX versions_run ON versions (run) WHERE run IS NOT NULL;

  CREATE TABLE version_files (
    version_id bigint NOT NULL REFERENCES versions (id),
    path text COLLATE "C" NOT NULL,
    size bigint NOT NULL CHECK (size >= 0),
    mode integer NOT NULL,
    sha256 text COLLATE "C" NOT NULL,
    PRIMARY KEY (version_id, path)
  );
  -- "Which versions hold this file?" and garbage collection's liveness scan.
  CREATE INDEX version_files_sha256 ON version_files (sha256);

  -- As in SQLite, NaN is stored as a NULL value with special 'NaN', and -0 as 0 with special '-0'. PostgreSQL
  -- could hold NaN itself, but it ranks NaN above every number, so a search for accuracy > 0.9 would match a
  -- diverged run; NULL matches no comparison, on both drivers alike.
  CREATE TABLE version_metrics (
    version_id bigint NOT NULL REFERENCES versions (id),
    key text COLLATE "C" NOT NULL,
    value double precision,
    special text CHECK (special IN ('NaN', '-0')),
    PRIMARY KEY (version_id, key),
    CHECK ((value IS NULL) = (special IS NOT DISTINCT FROM 'NaN'))
  );
  -- Search and ranking by metric across versions ("best accuracy").
  CREATE INDEX version_metrics_key_value ON version_metrics (key, value);

  CREATE TABLE version_tags (
    version_id bigint NOT NULL REFERENCES versions (id),
    key text COLLATE "C" NOT NULL,
    value text COLLATE "C" NOT NULL,
    PRIMARY KEY (version_id, key)
  );
  -- Search by tag ("stage=candidate").
  CREATE INDEX version_tags_key_value ON version_tags (key, value);

  -- ord keeps the refs in the order they were given (SQLite's rowid does that there).
  CREATE TABLE version_data (
    version_id bigint NOT NULL REFERENCES versions (id),
    ord integer NOT NULL,
    ref text COLLATE "C" NOT NULL,
    PRIMARY KEY (version_id, ord),
    UNIQUE (version_id, ref)
  );
  -- Lineage the other way: which versions were made from this dataset version.
  CREATE INDEX version_data_ref ON version_data (ref);

  CREATE TABLE aliases (
    artifact_id bigint NOT NULL REFERENCES artifacts (id),
    alias text COLLATE "C" NOT NULL,
    version_id bigint NOT NULL REFERENCES versions (id),
    protected boolean NOT NULL DEFAULT false,
    updated_at text COLLATE "C" NOT NULL,
    PRIMARY KEY (artifact_id, alias)
  );
  CREATE INDEX aliases_version ON aliases (version_id);

  -- History keeps version strings, not ids: it is a record of what happened and must outlive what it names.
  CREATE TABLE alias_events (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    artifact_id bigint NOT NULL REFERENCES artifacts (id),
    alias text COLLATE "C" NOT NULL,
    action text NOT NULL CHECK (action IN ('set', 'remove', 'rollback')),
    from_version text,
    to_version text,
    actor text NOT NULL,
    at text COLLATE "C" NOT NULL,
    reason text
  );
  CREATE INDEX alias_events_artifact_alias ON alias_events (artifact_id, alias, id);

  -- Names, not ids, for the same reason; an identity never hands out an id twice, so paging stays stable.
  CREATE TABLE audit_events (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at text COLLATE "C" NOT NULL,
    actor text NOT NULL,
    action text NOT NULL,
    artifact text COLLATE "C",
    target text NOT NULL,
    before jsonb NOT NULL,
    after jsonb NOT NULL
  );
  CREATE INDEX audit_events_artifact ON audit_events (artifact, id) WHERE artifact IS NOT NULL;
  `,
  // 2: the chunk store's index — packs, where each chunk lives, which chunks make each file, and the claims of
  // pushes in flight (garbage collection takes an advisory lock that claims share, so it never takes a
  // claimed chunk).
  `
  CREATE TABLE packs (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    key text COLLATE "C" NOT NULL UNIQUE,
    size bigint NOT NULL CHECK (size >= 0),
    chunk_count bigint NOT NULL CHECK (chunk_count >= 0),
    created_at text COLLATE "C" NOT NULL
  );

  -- Hashes as 32-byte bytea: half the size of hex in the table and its indexes.
  CREATE TABLE chunks (
    hash bytea PRIMARY KEY,
    pack_id bigint NOT NULL REFERENCES packs (id),
    "offset" bigint NOT NULL CHECK ("offset" >= 0),
    length bigint NOT NULL CHECK (length > 0)
  );
  CREATE INDEX chunks_pack ON chunks (pack_id, "offset");

  CREATE TABLE contents (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    sha256 text COLLATE "C" NOT NULL UNIQUE,
    size bigint NOT NULL CHECK (size >= 0),
    chunk_count bigint NOT NULL CHECK (chunk_count >= 0),
    created_at text COLLATE "C" NOT NULL
  );

  CREATE TABLE content_chunks (
    content_id bigint NOT NULL REFERENCES contents (id) ON DELETE CASCADE,
    ord integer NOT NULL,
    hash bytea NOT NULL,
    length bigint NOT NULL CHECK (length > 0),
    PRIMARY KEY (content_id, ord)
  );
  -- Garbage collection asks "does any file still use this chunk?".
  CREATE INDEX content_chunks_hash ON content_chunks (hash);

  CREATE TABLE upload_sessions (
    id text COLLATE "C" PRIMARY KEY,
    host text NOT NULL,
    pid integer NOT NULL,
    started_at text COLLATE "C" NOT NULL,
    heartbeat_at text COLLATE "C" NOT NULL
  );

  -- A claim names a chunk hash or a content sha256 (both stored as 32 bytes; they cannot be confused in practice).
  CREATE TABLE claims (
    session_id text COLLATE "C" NOT NULL REFERENCES upload_sessions (id) ON DELETE CASCADE,
    hash bytea NOT NULL,
    PRIMARY KEY (session_id, hash)
  );
  CREATE INDEX claims_hash ON claims (hash);

  -- The roots of garbage collection: every content a version refers to. Later features that keep content
  -- (run artifacts, lock files) extend this view in their own migration.
  CREATE VIEW live_content (sha256) AS
    SELECT sha256 FROM version_files
    UNION
    SELECT code ->> 'patch' FROM versions WHERE code ->> 'patch' IS NOT NULL;
  `,
  // 3: API tokens. Only the hex sha256 of a token is kept: a copy of the database grants nothing. Tokens are
  // high-entropy random strings, so a fast unsalted hash is enough (nothing to brute-force) and lets a
  // request's token be found through the unique index in one lookup.
  `
  CREATE TABLE api_tokens (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name text COLLATE "C" NOT NULL UNIQUE,
    role text NOT NULL CHECK (role IN ('reader', 'writer', 'admin')),
    secret_sha256 text COLLATE "C" NOT NULL UNIQUE CHECK (length(secret_sha256) = 64),
    created_at text NOT NULL,
    created_by text NOT NULL
  );
  `,
  // 4: experiment tracking, as SQLite's migration 4 (see its comment for the whole schema). Differences: the
  // logging order of metric points is an identity column `seq` (SQLite uses the rowid), and the history
  // index is the primary key (series_id, step, seq).
  `
  CREATE TABLE experiments (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name text COLLATE "C" NOT NULL UNIQUE,
    created_at text COLLATE "C" NOT NULL
  );

  CREATE TABLE runs (
    id text COLLATE "C" PRIMARY KEY,
    experiment_id bigint NOT NULL REFERENCES experiments (id),
    name text NOT NULL,
    status text NOT NULL CHECK (status IN ('running', 'finished', 'failed', 'killed')),
    start_time text COLLATE "C" NOT NULL,
    end_time text COLLATE "C",
    created_by text NOT NULL,
    code jsonb,
    environment jsonb,
    command text,
    CHECK ((status = 'running') = (end_time IS NULL))
  );
  CREATE INDEX runs_experiment ON runs (experiment_id, id);

  CREATE TABLE run_params (
    run_id text COLLATE "C" NOT NULL REFERENCES runs (id),
    key text COLLATE "C" NOT NULL,
    -- Canonical JSON text (object keys sorted): a param logged again is compared by this text.
    value text COLLATE "C" NOT NULL,
    PRIMARY KEY (run_id, key)
  );
  CREATE INDEX run_params_key_value ON run_params (key, value);

  CREATE TABLE run_metric_series (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    run_id text COLLATE "C" NOT NULL REFERENCES runs (id),
    key text COLLATE "C" NOT NULL,
    step bigint NOT NULL,
    timestamp bigint NOT NULL,
    value double precision,
    special text CHECK (special IN ('NaN', '-0')),
    UNIQUE (run_id, key),
    CHECK ((value IS NULL) = (special IS NOT DISTINCT FROM 'NaN'))
  );
  CREATE INDEX run_metric_series_key_value ON run_metric_series (key, value);

  CREATE TABLE run_metrics (
    series_id bigint NOT NULL REFERENCES run_metric_series (id),
    step bigint NOT NULL,
    seq bigint GENERATED ALWAYS AS IDENTITY,
    timestamp bigint NOT NULL,
    value double precision,
    special text CHECK (special IN ('NaN', '-0')),
    PRIMARY KEY (series_id, step, seq),
    CHECK ((value IS NULL) = (special IS NOT DISTINCT FROM 'NaN'))
  );

  CREATE VIEW run_metric_points (run_id, key, step, timestamp, value, special) AS
    SELECT s.run_id, s.key, m.step, m.timestamp, m.value, m.special
    FROM run_metrics m JOIN run_metric_series s ON s.id = m.series_id;

  CREATE TABLE run_tags (
    run_id text COLLATE "C" NOT NULL REFERENCES runs (id),
    key text COLLATE "C" NOT NULL,
    value text COLLATE "C" NOT NULL,
    PRIMARY KEY (run_id, key)
  );
  CREATE INDEX run_tags_key_value ON run_tags (key, value);

  CREATE TABLE run_inputs (
    run_id text COLLATE "C" NOT NULL REFERENCES runs (id),
    ord integer NOT NULL,
    ref text COLLATE "C" NOT NULL,
    PRIMARY KEY (run_id, ord),
    UNIQUE (run_id, ref)
  );
  CREATE INDEX run_inputs_ref ON run_inputs (ref);

  CREATE TABLE run_artifacts (
    run_id text COLLATE "C" NOT NULL REFERENCES runs (id),
    path text COLLATE "C" NOT NULL,
    size bigint NOT NULL CHECK (size >= 0),
    mode integer NOT NULL,
    sha256 text COLLATE "C" NOT NULL,
    PRIMARY KEY (run_id, path)
  );

  CREATE TABLE run_lock_files (
    run_id text COLLATE "C" NOT NULL REFERENCES runs (id),
    path text COLLATE "C" NOT NULL,
    sha256 text COLLATE "C" NOT NULL,
    PRIMARY KEY (run_id, path)
  );

  DROP VIEW live_content;
${LIVE_CONTENT_VIEW}  `,
  // 5: a pack records the upload session that wrote it, as SQLite's migration 5: while that session lives,
  // garbage collection keeps every chunk of its packs, so a push claims only its dedup hits. (Migration 8
  // replaces this with SQLite's pack_claims, as SQLite's migration 5 has it.)
  `
  ALTER TABLE packs ADD COLUMN session_id text COLLATE "C";
  CREATE INDEX packs_session ON packs (session_id) WHERE session_id IS NOT NULL;
  `,
  // 6: reproduction and derived models, as SQLite's migration 6: versions.base (the exact ref of the version
  // it was derived from) and run_inputs.path (where a data version sat, relative to the repository root).
  `
  ALTER TABLE versions ADD COLUMN base text COLLATE "C";
  CREATE INDEX versions_base ON versions (base) WHERE base IS NOT NULL;
  ALTER TABLE run_inputs ADD COLUMN path text;
  `,
  // 7: as SQLite's migration 7: indexes a search walks in its sort order. Here every (key, value) index of a
  // metric or tag table gains its owner's id (PostgreSQL's indexes do not carry the primary key), so the ordered
  // scan reads ids from the index alone with ties in id order; each replaces the (key, value) index it covers.
  // When a narrow filter drives instead, each hit's creation time is looked up by id: (id) INCLUDE (creation
  // time) answers that from the index alone, where the primary key would read every hit's wide row.
  `
  CREATE INDEX IF NOT EXISTS run_metric_series_key_value_run ON run_metric_series (key, value, run_id);
  DROP INDEX IF EXISTS run_metric_series_key_value;
  CREATE INDEX IF NOT EXISTS version_metrics_key_value_version ON version_metrics (key, value, version_id);
  DROP INDEX IF EXISTS version_metrics_key_value;
  CREATE INDEX IF NOT EXISTS run_tags_key_value_run ON run_tags (key, value, run_id);
  DROP INDEX IF EXISTS run_tags_key_value;
  CREATE INDEX IF NOT EXISTS version_tags_key_value_version ON version_tags (key, value, version_id);
  DROP INDEX IF EXISTS version_tags_key_value;
  CREATE INDEX IF NOT EXISTS runs_start_time ON runs (start_time, id);
  CREATE INDEX IF NOT EXISTS versions_created_at ON versions (created_at, id);
  CREATE INDEX IF NOT EXISTS runs_id_start_time ON runs (id) INCLUDE (start_time);
  CREATE INDEX IF NOT EXISTS versions_id_created_at ON versions (id) INCLUDE (created_at);
  `,
  // 8: claims on whole packs, as SQLite's migration 5 (see its comment), replacing migration 5's packs.session_id:
  // a push claims the packs it writes and those holding its dedup hits, so a hit's pack survives a collection
  // whole while the push lives, on both drivers alike. The claims of sessions still open carry over; a pack's
  // session_id naming an ended session (there was no foreign key) protected nothing and is dropped.
  `
  CREATE TABLE pack_claims (
    session_id text COLLATE "C" NOT NULL REFERENCES upload_sessions (id) ON DELETE CASCADE,
    pack_id bigint NOT NULL REFERENCES packs (id) ON DELETE CASCADE,
    PRIMARY KEY (session_id, pack_id)
  );
  CREATE INDEX pack_claims_pack ON pack_claims (pack_id);
  INSERT INTO pack_claims (session_id, pack_id)
    SELECT p.session_id, p.id FROM packs p JOIN upload_sessions s ON s.id = p.session_id;
  DROP INDEX packs_session;
  ALTER TABLE packs DROP COLUMN session_id;
  `,
  // 9: a version's params as json, not jsonb: json keeps the text as written, so the keys come back in the order
  // the user gave them, as SQLite keeps them (jsonb reorders keys: shortest first, then by bytes). Search reads
  // them through a cast to jsonb (core's search/compile.ts). Rows written before this keep jsonb's order: the
  // conversion writes out jsonb's text, and the order they were given in was never stored.
  `
  ALTER TABLE versions ALTER COLUMN params TYPE json USING params::json;
  `,
  // 10: the other JSON a user reads back as JSON, also as json for the same reason: a version's and a run's code
  // and environment, and the audit log's before and after. Nothing searches them. Older rows keep jsonb's order.
  // live_content (migration 4) reads code's patch: it is made again over the json columns, unchanged.
  `
  DROP VIEW live_content;
  ALTER TABLE versions ALTER COLUMN code TYPE json USING code::json;
  ALTER TABLE versions ALTER COLUMN environment TYPE json USING environment::json;
  ALTER TABLE runs ALTER COLUMN code TYPE json USING code::json;
  ALTER TABLE runs ALTER COLUMN environment TYPE json USING environment::json;
  ALTER TABLE audit_events ALTER COLUMN before TYPE json USING before::json;
  ALTER TABLE audit_events ALTER COLUMN after TYPE json USING after::json;
${LIVE_CONTENT_VIEW}  `,
];
