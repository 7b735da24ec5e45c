/**
 * @module A failure another process has reported already on the same stderr (a `cairn serve` worker that could
 * not start): the command ends with its exit code and prints nothing more.
 */
export class AlreadyReported extends Error {
  constructor(readonly exitCode: number) {
    super(`already reported (exit code ${exitCode})`);
  }
}
