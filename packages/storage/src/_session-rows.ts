/**
 * @module What the SQLite and PostgreSQL chunk indexes share about upload sessions: the row they select and
 * how it becomes core's UploadSession.
 */
import type { UploadSession } from "@cairn/core";

export const SESSION_SELECT = "SELECT id, host, pid, started_at, heartbeat_at FROM upload_sessions";

export interface SessionRow {
  id: string;
  host: string;
  pid: number;
  started_at: string;
  heartbeat_at: string;
}

export const toSession = (r: SessionRow): UploadSession => ({
  id: r.id,
  host: r.host,
  pid: r.pid,
  startedAt: r.started_at,
  heartbeatAt: r.heartbeat_at,
});
