import {
  ACTION_ROLES,
  type Action,
  assertAuthorized,
  authorize,
  CairnError,
  checkRole,
  checkTokenName,
  isTokenShaped,
  ROLES,
  type Role,
} from "@cairn/core";
import { describe, expect, it } from "vitest";

const actions = Object.keys(ACTION_ROLES) as Action[];
const may = (role: Role, action: Action, protectedAlias = false) =>
  authorize(role, action, { protectedAlias }).allowed;

describe("roles", () => {
  it("readers read and nothing else", () => {
    expect(actions.filter((a) => may("reader", a))).toEqual(["read"]);
  });

  it("writers push, tag, write notes, move unprotected aliases and track runs, and no more", () => {
    expect(actions.filter((a) => may("writer", a))).toEqual([
      "read",
      "version.push",
      "version.tag",
      "version.notes",
      "alias.move",
      "run.write",
    ]);
    expect(may("writer", "alias.move", true)).toBe(false);
  });

  it("admins do everything, protected aliases included", () => {
    expect(actions.every((a) => may("admin", a) && may("admin", a, true))).toBe(true);
  });

  it("each role may do everything the roles below it may", () => {
    for (const action of actions) {
      for (const isProtected of [false, true]) {
        const allowed = ROLES.map((role) => may(role, action, isProtected));
        expect(allowed).toEqual([...allowed].sort((a, b) => Number(a) - Number(b)));
      }
    }
  });

  it("says which role is needed", () => {
    expect(authorize("writer", "alias.move", { protectedAlias: true })).toEqual({
      allowed: false,
      needs: "admin",
    });
    expect(authorize("reader", "version.tag")).toEqual({ allowed: false, needs: "writer" });
  });

  it("assertAuthorized throws FORBIDDEN naming the protected alias and the role it needs", () => {
    expect(() => assertAuthorized("admin", "alias.move", { protectedAlias: true })).not.toThrow();
    let error: unknown;
    try {
      assertAuthorized("writer", "alias.move", { protectedAlias: true }, "clf@production");
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(CairnError);
    expect(error).toMatchObject({
      code: "FORBIDDEN",
      message: "a writer token cannot move the protected alias clf@production: it needs admin",
    });
  });
});

describe("token names, roles and shapes", () => {
  it("accepts user-like names and refuses the rest, and the reserved anonymous", () => {
    for (const name of ["ci", "ci-bot", "ada@example.com", "svc_1.prod"])
      expect(checkTokenName(name)).toBe(name);
    for (const name of ["", "-x", "has space", "a/b", "x".repeat(65), "anonymous"]) {
      expect(() => checkTokenName(name)).toThrow(/invalid token name/);
    }
  });

  it("knows the three roles", () => {
    expect(checkRole("writer")).toBe("writer");
    expect(() => checkRole("root")).toThrow(/invalid role "root"/);
  });

  it("recognises the shape of an issued token before any lookup", () => {
    expect(isTokenShaped(`cairn_${"A".repeat(43)}`)).toBe(true);
    for (const text of ["cairn_", "cairn_short", `other_${"A".repeat(43)}`, `cairn_${"A".repeat(43)}!`]) {
      expect(isTokenShaped(text)).toBe(false);
    }
  });
});
