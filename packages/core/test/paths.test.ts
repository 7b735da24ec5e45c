import { normaliseFilePath } from "@cairn/core";
import { describe, expect, it } from "vitest";
import { caught } from "./helpers.js";

describe("file paths inside a version", () => {
  it.each([
    ["model.onnx", "model.onnx"],
    ["./a//b", "a/b"],
    ["weights/./shard-1.bin", "weights/shard-1.bin"],
    ["checkpoints/epoch-3/", "checkpoints/epoch-3"],
    ["tokenizer\\vocab.txt", "tokenizer/vocab.txt"],
    ["...", "..."],
    ["a..b/c", "a..b/c"],
  ])("%j is stored as %j", (given, stored) => {
    expect(normaliseFilePath(given)).toBe(stored);
  });

  it.each(["../secrets", "weights/../../etc/passwd", "a/..", "a\\..\\..\\b"])(
    "refuses %j, which climbs out of the folder",
    (path) => {
      expect(caught("INVALID", () => normaliseFilePath(path)).message).toMatch(/escapes its folder/);
    },
  );

  it("refuses .. even when it would land back inside the folder", () => {
    caught("INVALID", () => normaliseFilePath("a/../b"));
  });

  it.each(["/etc/passwd", "\\\\server\\share\\x", "C:\\Windows\\win.ini", "c:model.bin", "D:/data"])(
    "refuses the absolute path %j",
    (path) => {
      expect(caught("INVALID", () => normaliseFilePath(path)).message).toMatch(/absolute/);
    },
  );

  it("refuses a NUL byte, which would cut the path short on disk", () => {
    expect(caught("INVALID", () => normaliseFilePath("model.onnx\0.txt")).message).toMatch(/NUL/);
  });

  it.each(["", ".", "./", "//"])("refuses %j, which names no file", (path) => {
    caught("INVALID", () => normaliseFilePath(path));
  });

  it("refuses paths longer than 4096 characters", () => {
    expect(normaliseFilePath("a".repeat(4096))).toHaveLength(4096);
    caught("INVALID", () => normaliseFilePath("a".repeat(4097)));
  });
});
