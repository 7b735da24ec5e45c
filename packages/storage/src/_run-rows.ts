/**
 * @module What the SQLite and PostgreSQL tracking stores share: the run row they select and how a row and
 * its parts become core's Run and RunSummary.
 */
import type { CodeInfo, FileEntry, JsonObject, Run, RunStatus, RunSummary } from "@cairn/core";

export const RUN_SELECT = `
  SELECT r.id, e.name AS experiment, r.name, r.status, r.start_time, r.end_time, r.created_by, r.code,
         r.environment, r.command
  FROM runs r JOIN experiments e ON e.id = r.experiment_id`;

/** A run row with its JSON columns parsed. */
export interface RunRow {
  id: string;
  experiment: string;
  name: string;
  status: RunStatus;
  start_time: string;
  end_time: string | null;
  created_by: string;
  code: CodeInfo | null;
  environment: JsonObject | null;
  command: string | null;
}

export type RunParts = Pick<Run, "params" | "metrics" | "tags" | "artifacts" | "outputs"> & {
  artifacts: FileEntry[];
  /** run_inputs rows in the order given; `path` is NULL for runs recorded before paths were kept. */
  inputs: Array<{ ref: string; path: string | null }>;
};

export const toRunSummary = (row: RunRow, metrics: Record<string, number>): RunSummary => ({
  id: row.id,
  experiment: row.experiment,
  name: row.name,
  status: row.status,
  startTime: row.start_time,
  endTime: row.end_time,
  metrics,
});

export const toRun = (row: RunRow, parts: RunParts): Run => ({
  ...toRunSummary(row, parts.metrics),
  createdBy: row.created_by,
  params: parts.params,
  tags: parts.tags,
  data: parts.inputs.map((i) => i.ref),
  dataPaths: Object.fromEntries(parts.inputs.flatMap((i) => (i.path === null ? [] : [[i.ref, i.path]]))),
  artifacts: parts.artifacts,
  code: row.code,
  environment: row.environment,
  command: row.command,
  outputs: parts.outputs,
});
