/**
 * @module The SQLite schema, as an ordered list of migrations. Migration N is `MIGRATIONS[N - 1]`; a database
 * records the ones it has in `schema_migrations`. Never edit a released migration: append a new one.
 */

export const MIGRATIONS: readonly string[] = [
  // 1: artifacts, versions and their parts, aliases and their history, the audit log.
  `
  CREATE TABLE artifacts (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    type TEXT NOT NULL CHECK (type IN ('model', 'dataset')),
    created_at TEXT NOT NULL
  ) STRICT;

  CREATE TABLE versions (
    id INTEGER PRIMARY KEY,
    artifact_id INTEGER NOT NULL REFERENCES artifacts (id),
    version TEXT NOT NULL,
    seq INTEGER NOT NULL CHECK (seq >= 1),
    created_at TEXT NOT NULL,
    created_by TEXT NOT NULL,
    params TEXT NOT NULL CHECK (json_valid(params)),
    notes TEXT NOT NULL DEFAULT '',
    code TEXT CHECK (code IS NULL OR json_valid(code)),
    environment TEXT CHECK (environment IS NULL OR json_valid(environment)),
    run TEXT,
    -- The numeric core of the semver string, so the highest version is found through an index instead of
    -- by parsing every version of an artifact (only the prereleases of the top MAJOR.MINOR.PATCH are compared).
    major INTEGER NOT NULL,
    minor INTEGER NOT NULL,
    patch INTEGER NOT NULL,
    UNIQUE (artifact_id, version),
    UNIQUE (artifact_id, seq)
  ) STRICT;
  CREATE INDEX versions_precedence ON versions (artifact_id, major, minor, patch, seq);
  -- Lineage from a run back to the versions it produced.
  CREATE INDEX versions_run ON versions (run) WHERE run IS NOT NULL;

  -- Clustered by (version, path): a version's files come back sorted without a sort step.
  CREATE TABLE version_files (
    version_id INTEGER NOT NULL REFERENCES versions (id),
    path TEXT NOT NULL,
    size INTEGER NOT NULL CHECK (size >= 0),
    mode INTEGER NOT NULL,
    sha256 TEXT NOT NULL,
    PRIMARY KEY (version_id, path)
  ) STRICT, WITHOUT ROWID;
  -- "Which versions hold this file?" and garbage collection's liveness scan.
  CREATE INDEX version_files_sha256 ON version_files (sha256);

  -- SQLite stores NaN as NULL and -0 as 0, so those two keep their exact value in \`special\`; \`value\` stays
  -- comparable (NULL for NaN, so a search for accuracy > 0.9 never matches a diverged run).
  CREATE TABLE version_metrics (
    version_id INTEGER NOT NULL REFERENCES versions (id),
    key TEXT NOT NULL,
    value REAL,
    special TEXT CHECK (special IN ('NaN', '-0')),
    PRIMARY KEY (version_id, key),
    CHECK ((value IS NULL) = (special IS 'NaN'))
  ) STRICT, WITHOUT ROWID;
  -- Search and ranking by metric across versions ("best accuracy").
  CREATE INDEX version_metrics_key_value ON version_metrics (key, value);

  CREATE TABLE version_tags (
    version_id INTEGER NOT NULL REFERENCES versions (id),
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (version_id, key)
  ) STRICT, WITHOUT ROWID;
  -- Search by tag ("stage=candidate").
  CREATE INDEX version_tags_key_value ON version_tags (key, value);

  -- A rowid table so the refs come back in the order they were given.
  CREATE TABLE version_data (
    version_id INTEGER NOT NULL REFERENCES versions (id),
    ref TEXT NOT NULL,
    UNIQUE (version_id, ref)
  ) STRICT;
  -- Lineage the other way: which versions were made from this dataset version.
  CREATE INDEX version_data_ref ON version_data (ref);

  CREATE TABLE aliases (
    artifact_id INTEGER NOT NULL REFERENCES artifacts (id),
    alias TEXT NOT NULL,
    version_id INTEGER NOT NULL REFERENCES versions (id),
    protected INTEGER NOT NULL DEFAULT 0 CHECK (protected IN (0, 1)),
    updated_at TEXT NOT NULL,
    PRIMARY KEY (artifact_id, alias)
  ) STRICT, WITHOUT ROWID;
  CREATE INDEX aliases_version ON aliases (version_id);

  -- History keeps version strings, not ids: it is a record of what happened and must outlive what it names.
  CREATE TABLE alias_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    artifact_id INTEGER NOT NULL REFERENCES artifacts (id),
    alias TEXT NOT NULL,
    action TEXT NOT NULL CHECK (action IN ('set', 'remove', 'rollback')),
    from_version TEXT,
    to_version TEXT,
    actor TEXT NOT NULL,
    at TEXT NOT NULL,
    reason TEXT
  ) STRICT;
  CREATE INDEX alias_events_artifact_alias ON alias_events (artifact_id, alias, id);

  -- Names, not ids, for the same reason; AUTOINCREMENT so an id is never reused and paging stays stable.
  CREATE TABLE audit_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at TEXT NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    artifact TEXT,
    target TEXT NOT NULL,
    before TEXT NOT NULL CHECK (json_valid(before)),
    after TEXT NOT NULL CHECK (json_valid(after))
  ) STRICT;
  CREATE INDEX audit_events_artifact ON audit_events (artifact, id) WHERE artifact IS NOT NULL;
  `,
  // 2: the chunk store's index — packs, where each chunk lives, which chunks make each file, and the claims of
  // pushes in flight (so garbage collection, serialised with them by the write lock, never takes a claimed chunk).
  `
  CREATE TABLE packs (
    id INTEGER PRIMARY KEY,
    key TEXT NOT NULL UNIQUE,
    size INTEGER NOT NULL CHECK (size >= 0),
    chunk_count INTEGER NOT NULL CHECK (chunk_count >= 0),
    created_at TEXT NOT NULL
  ) STRICT;

  -- Hashes as 32-byte blobs: half the size of hex in the table and its indexes.
  CREATE TABLE chunks (
    hash BLOB PRIMARY KEY,
    pack_id INTEGER NOT NULL REFERENCES packs (id),
    offset INTEGER NOT NULL CHECK (offset >= 0),
    length INTEGER NOT NULL CHECK (length > 0)
  ) STRICT, WITHOUT ROWID;
  CREATE INDEX chunks_pack ON chunks (pack_id, offset);

  CREATE TABLE contents (
    id INTEGER PRIMARY KEY,
    sha256 TEXT NOT NULL UNIQUE,
    size INTEGER NOT NULL CHECK (size >= 0),
    chunk_count INTEGER NOT NULL CHECK (chunk_count >= 0),
    created_at TEXT NOT NULL
  ) STRICT;

  CREATE TABLE content_chunks (
    content_id INTEGER NOT NULL REFERENCES contents (id) ON DELETE CASCADE,
    ord INTEGER NOT NULL,
    hash BLOB NOT NULL,
    length INTEGER NOT NULL CHECK (length > 0),
    PRIMARY KEY (content_id, ord)
  ) STRICT, WITHOUT ROWID;
  -- Garbage collection asks "does any file still use this chunk?".
  CREATE INDEX content_chunks_hash ON content_chunks (hash);

  CREATE TABLE upload_sessions (
    id TEXT PRIMARY KEY,
    host TEXT NOT NULL,
    pid INTEGER NOT NULL,
    started_at TEXT NOT NULL,
    heartbeat_at TEXT NOT NULL
  ) STRICT;

  -- A claim names a chunk hash or a content sha256 (both stored as 32 bytes; they cannot be confused in practice).
  CREATE TABLE claims (
    session_id TEXT NOT NULL REFERENCES upload_sessions (id) ON DELETE CASCADE,
    hash BLOB NOT NULL,
    PRIMARY KEY (session_id, hash)
  ) STRICT, WITHOUT ROWID;
  CREATE INDEX claims_hash ON claims (hash);

  -- The roots of garbage collection: every content a version refers to. Later features that keep content
  -- (run artifacts, lock files) extend this view in their own migration.
  CREATE VIEW live_content (sha256) AS
    SELECT sha256 FROM version_files
    UNION
    SELECT json_extract(code, '$.patch') FROM versions
    WHERE code IS NOT NULL AND json_extract(code, '$.patch') IS NOT NULL;
  `,
  // 3: API tokens. Only the hex sha256 of a token is kept: a copy of the database grants nothing. Tokens are
  // high-entropy random strings, so a fast unsalted hash is enough (nothing to brute-force) and lets a
  // request's token be found through the unique index in one lookup.
  `
  CREATE TABLE api_tokens (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    role TEXT NOT NULL CHECK (role IN ('reader', 'writer', 'admin')),
    secret_sha256 TEXT NOT NULL UNIQUE CHECK (length(secret_sha256) = 64),
    created_at TEXT NOT NULL,
    created_by TEXT NOT NULL
  ) STRICT;
  `,
  // 4: experiment tracking. The schema, for whoever queries it (search, lineage, reproduce):
  //   experiments         name (unique), created_at
  //   runs                id (the public run id: 16 base32 characters, time-ordered; versions.run holds it),
  //                       experiment_id, name, status (running|finished|failed|killed), start_time, end_time
  //                       (ISO 8601 text), created_by, code (JSON, as versions.code), environment (JSON: runtime
  //                       versions and lockFiles {file: sha256}), command
  //   run_params          run_id, key, value: canonical JSON text (object keys sorted); write-once per key
  //   run_metric_series   id, run_id, key (unique together) and that metric's last point — step, timestamp,
  //                       value/special as in version_metrics (highest step; the latest logged on a tie): a
  //                       run's "final metrics", what search filters and ranks runs by
  //   run_metrics         series_id, step, timestamp (ms since 1970), value/special: every logged point, the
  //                       rowid in logging order; a metric's history through (series_id, step). A small integer
  //                       series id keeps that index narrow, which is most of the cost of a batch insert.
  //   run_metric_points   a view: run_id, key, step, timestamp, value, special of every point
  //   run_tags            run_id, key, value
  //   run_inputs          run_id, ref: exact `name@version` of a data version the run read (lineage)
  //   run_artifacts       run_id, path, size, mode, sha256: files logged by the run, in the content store
  //   run_lock_files      run_id, path, sha256: lock files of the run's environment, in the content store
  // Run artifacts, lock files and runs' code patches are garbage-collection roots: live_content is recreated.
  `
  CREATE TABLE experiments (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    created_at TEXT NOT NULL
  ) STRICT;

  CREATE TABLE runs (
    id TEXT PRIMARY KEY,
    experiment_id INTEGER NOT NULL REFERENCES experiments (id),
    name TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('running', 'finished', 'failed', 'killed')),
    start_time TEXT NOT NULL,
    end_time TEXT,
    created_by TEXT NOT NULL,
    code TEXT CHECK (code IS NULL OR json_valid(code)),
    environment TEXT CHECK (environment IS NULL OR json_valid(environment)),
    command TEXT,
    CHECK ((status = 'running') = (end_time IS NULL))
  ) STRICT, WITHOUT ROWID;
  -- Runs of one experiment, newest first (ids are time-ordered).
  CREATE INDEX runs_experiment ON runs (experiment_id, id);

  CREATE TABLE run_params (
    run_id TEXT NOT NULL REFERENCES runs (id),
    key TEXT NOT NULL,
    value TEXT NOT NULL CHECK (json_valid(value)),
    PRIMARY KEY (run_id, key)
  ) STRICT, WITHOUT ROWID;
  CREATE INDEX run_params_key_value ON run_params (key, value);

  CREATE TABLE run_metric_series (
    id INTEGER PRIMARY KEY,
    run_id TEXT NOT NULL REFERENCES runs (id),
    key TEXT NOT NULL,
    step INTEGER NOT NULL,
    timestamp INTEGER NOT NULL,
    value REAL,
    special TEXT CHECK (special IN ('NaN', '-0')),
    UNIQUE (run_id, key),
    CHECK ((value IS NULL) = (special IS 'NaN'))
  ) STRICT;
  -- Search and ranking of runs by a final metric ("best accuracy").
  CREATE INDEX run_metric_series_key_value ON run_metric_series (key, value);

  -- A rowid table: the rowid is the logging order, which breaks ties between points of the same step.
  CREATE TABLE run_metrics (
    series_id INTEGER NOT NULL REFERENCES run_metric_series (id),
    step INTEGER NOT NULL,
    timestamp INTEGER NOT NULL,
    value REAL,
    special TEXT CHECK (special IN ('NaN', '-0')),
    CHECK ((value IS NULL) = (special IS 'NaN'))
  ) STRICT;
  -- One metric's history in step order (the rowid rides along in the index, so paging needs no sort).
  CREATE INDEX run_metrics_history ON run_metrics (series_id, step);

  CREATE VIEW run_metric_points (run_id, key, step, timestamp, value, special) AS
    SELECT s.run_id, s.key, m.step, m.timestamp, m.value, m.special
    FROM run_metrics m JOIN run_metric_series s ON s.id = m.series_id;

  CREATE TABLE run_tags (
    run_id TEXT NOT NULL REFERENCES runs (id),
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (run_id, key)
  ) STRICT, WITHOUT ROWID;
  CREATE INDEX run_tags_key_value ON run_tags (key, value);

  -- A rowid table so the refs come back in the order they were given.
  CREATE TABLE run_inputs (
    run_id TEXT NOT NULL REFERENCES runs (id),
    ref TEXT NOT NULL,
    UNIQUE (run_id, ref)
  ) STRICT;
  -- Lineage the other way: which runs read this dataset version.
  CREATE INDEX run_inputs_ref ON run_inputs (ref);

  CREATE TABLE run_artifacts (
    run_id TEXT NOT NULL REFERENCES runs (id),
    path TEXT NOT NULL,
    size INTEGER NOT NULL CHECK (size >= 0),
    mode INTEGER NOT NULL,
    sha256 TEXT NOT NULL,
    PRIMARY KEY (run_id, path)
  ) STRICT, WITHOUT ROWID;

  CREATE TABLE run_lock_files (
    run_id TEXT NOT NULL REFERENCES runs (id),
    path TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    PRIMARY KEY (run_id, path)
  ) STRICT, WITHOUT ROWID;

  DROP VIEW live_content;
  CREATE VIEW live_content (sha256) AS
    SELECT sha256 FROM version_files
    UNION
    SELECT json_extract(code, '$.patch') FROM versions
    WHERE code IS NOT NULL AND json_extract(code, '$.patch') IS NOT NULL
    UNION
    SELECT sha256 FROM run_artifacts
    UNION
    SELECT sha256 FROM run_lock_files
    UNION
    SELECT json_extract(code, '$.patch') FROM runs
    WHERE code IS NOT NULL AND json_extract(code, '$.patch') IS NOT NULL;
  `,
  // 5: claims on whole packs. A push claims the packs that hold the chunks it found already stored (its dedup
  // hits) and the packs it writes itself; while it lives, garbage collection keeps every chunk of a claimed
  // pack. A claim row per chunk, as before, was most of a push's database time (a 1 GB version: 16,000 rows
  // against a dozen packs). Chunk claims (table claims) stay for contents and older sessions.
  `
  CREATE TABLE pack_claims (
    session_id TEXT NOT NULL REFERENCES upload_sessions (id) ON DELETE CASCADE,
    pack_id INTEGER NOT NULL REFERENCES packs (id) ON DELETE CASCADE,
    PRIMARY KEY (session_id, pack_id)
  ) STRICT, WITHOUT ROWID;
  CREATE INDEX pack_claims_pack ON pack_claims (pack_id);
  `,
  // 6: reproduction and derived models. versions.base is the exact ref (`name@version`) of the version a
  // version was derived from (`--base`), a lineage edge; run_inputs.path is where a data version sat in the
  // run's working tree, relative to the repository root (NULL for runs recorded before it was kept).
  `
  ALTER TABLE versions ADD COLUMN base TEXT;
  -- Lineage down from a base: which versions were derived from it.
  CREATE INDEX versions_base ON versions (base) WHERE base IS NOT NULL;
  ALTER TABLE run_inputs ADD COLUMN path TEXT;
  `,
  // 7: indexes that let a search walk its sort order and stop when the page is full (core's search/compile.ts).
  // A run's final metric by (key, value, run_id): the ordered scan of "order by metrics.f1 desc" reads run ids
  // from the index alone, ties in id order; it replaces (key, value), which it covers. The tag and version-metric
  // tables are WITHOUT ROWID, so their (key, value) indexes already end with the owner's id. (run_id, key, value)
  // answers "does this run's final metric match?" from the index alone, for each run such a scan meets (the
  // unique (run_id, key) index would also read the row). Runs and versions by creation time serve the default
  // order, newest first. Written to apply in any order with migration 6.
  `
  CREATE INDEX IF NOT EXISTS run_metric_series_key_value_run ON run_metric_series (key, value, run_id);
  DROP INDEX IF EXISTS run_metric_series_key_value;
  CREATE INDEX IF NOT EXISTS run_metric_series_run_key_value ON run_metric_series (run_id, key, value);
  CREATE INDEX IF NOT EXISTS runs_start_time ON runs (start_time, id);
  CREATE INDEX IF NOT EXISTS versions_created_at ON versions (created_at, id);
  `,
  // 8: nothing here. PostgreSQL's migration 8 brings its schema to this one's pack_claims (migration 5 there
  // had given packs a session_id instead); the numbers stay in step so migration N means one change on both.
  `
  -- no change
  `,
  // 9: nothing here either. PostgreSQL's migration 9 stores versions.params as json, keeping its keys in the
  // order given, as this TEXT column always has.
  `
  -- no change
  `,
  // 10: nothing here. PostgreSQL's migration 10 does the same for code, environment and the audit details.
  `
  -- no change
  `,
];
