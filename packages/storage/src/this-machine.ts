/**
 * @module This machine as core's ownership rules see it (`liveSessions`, `stalePartialFolders`): its host name,
 * and whether a process of it still runs. Whatever a dead process left may be cleaned up; a live one's never.
 */
import { hostname } from "node:os";
import type { Machine } from "@cairn/core";

function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

export const thisMachine = (): Machine => ({
  host: hostname(),
  isProcessAlive,
});
