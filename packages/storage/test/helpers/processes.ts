/**
 * @module Child `node` processes for cross-process tests, driven line by line over stdio (no sleeps: each side
 * waits for the other's line).
 */
import { type ChildProcessWithoutNullStreams, spawn } from "node:child_process";
import { createInterface } from "node:readline";

export interface NodeProcess {
  child: ChildProcessWithoutNullStreams;
  /** The next line the process prints; rejects (with its stderr) when it exits first. */
  nextLine(): Promise<string>;
  send(line: string): void;
  /** Resolves with the exit code (null when killed by a signal) and the signal. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stderr(): string;
}

export function startNode(script: string, args: string[]): NodeProcess {
  const child = spawn(process.execPath, [script, ...args], { stdio: ["pipe", "pipe", "pipe"] });
  let stderr = "";
  child.stderr.setEncoding("utf8").on("data", (text: string) => {
    stderr += text;
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.on("exit", (code, signal) => resolve({ code, signal }));
  });
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  return {
    child,
    async nextLine() {
      const next = await lines.next();
      if (next.done) {
        await exited;
        throw new Error(`${script} ended without printing a line:\n${stderr}`);
      }
      return next.value;
    },
    send(line) {
      child.stdin.write(`${line}\n`);
    },
    exited,
    stderr: () => stderr,
  };
}
