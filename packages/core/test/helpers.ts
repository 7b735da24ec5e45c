/**
 * @module Small builders shared by the core tests: a version record with sensible defaults, and a way to
 * catch the CairnError a call must throw so its code, message and hint can be checked.
 */
import { CairnError, type ErrorCode, type Version } from "@cairn/core";
import { expect } from "vitest";

export const SHA_A = "a".repeat(64);
export const SHA_B = "b".repeat(64);
export const SHA_C = "c".repeat(64);

export function makeVersion(overrides: Partial<Version> & Pick<Version, "version">): Version {
  return {
    artifact: "resnet",
    type: "model",
    seq: 1,
    createdAt: "2024-03-01T12:00:00.000Z",
    createdBy: "ada",
    files: [],
    params: {},
    metrics: {},
    tags: {},
    notes: "",
    data: [],
    code: null,
    environment: null,
    run: null,
    aliases: [],
    ...overrides,
  };
}

/** Runs `fn`, which must throw a CairnError with `code`, and returns the error. */
export function caught(code: ErrorCode, fn: () => unknown): CairnError {
  let thrown: unknown;
  try {
    fn();
  } catch (error) {
    thrown = error;
  }
  expect(thrown, "expected a CairnError to be thrown").toBeInstanceOf(CairnError);
  expect((thrown as CairnError).code).toBe(code);
  return thrown as CairnError;
}

/** Like `caught`, for a promise that must reject. */
export async function rejected(code: ErrorCode, promise: Promise<unknown>): Promise<CairnError> {
  let thrown: unknown;
  try {
    await promise;
  } catch (error) {
    thrown = error;
  }
  expect(thrown, "expected a CairnError rejection").toBeInstanceOf(CairnError);
  expect((thrown as CairnError).code).toBe(code);
  return thrown as CairnError;
}
