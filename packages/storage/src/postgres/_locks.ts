/**
 * @module The advisory locks the PostgreSQL driver takes, all transaction-scoped (released at COMMIT or
 * ROLLBACK, so a crashed server never leaves one held). Keys are two int4s: a cairn-specific first key keeps
 * them apart from any other application's locks in the same database.
 */

// "cair" and "cais" in ASCII.
const CAIRN = 0x63616972;
const CAIRN_ALIAS = 0x63616973;

/** Serialises schema migrations: several servers starting at once apply each migration exactly once. */
export const MIGRATION_LOCK = `SELECT pg_advisory_xact_lock(${CAIRN}, 1)`;

/**
 * Garbage collection against the writers of the chunk index. The sweep (and the pack rewrites and index
 * rebuild that follow it) holds it exclusively; claims, new packs, new contents, the end of a session and
 * version commits hold it shared, so they run side by side but never during a sweep — the guarantee SQLite's
 * single write lock gives its driver.
 */
export const GC_LOCK_EXCLUSIVE = `SELECT pg_advisory_xact_lock(${CAIRN}, 2)`;
export const GC_LOCK_SHARED = `SELECT pg_advisory_xact_lock_shared(${CAIRN}, 2)`;

/**
 * One alias of one artifact ($1 the artifact id, $2 the alias): every change of its target holds it, also
 * when the alias does not exist yet and there is no row to lock, so two moves from the same starting point
 * run one after the other and the second sees what the first did. A hash collision only serialises two
 * unrelated aliases.
 */
export const ALIAS_LOCK = `SELECT pg_advisory_xact_lock(${CAIRN_ALIAS}, hashtext($1::bigint || ':' || $2::text))`;

/** `cairn migrate` loading into this database: a second load waits, then finds the tables no longer empty. */
export const COPY_LOCK = `SELECT pg_advisory_xact_lock(${CAIRN}, 3)`;
