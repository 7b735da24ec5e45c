import { type AliasAction, type AliasEvent, aliasTargetStack, planRollback } from "@cairn/core";
import { describe, expect, it } from "vitest";
import { caught } from "./helpers.js";

/**
 * An alias's history, built the way the registry records it: each event starts where the previous one
 * ended, and a rollback goes where `planRollback` says.
 */
class History {
  readonly events: AliasEvent[] = [];

  private record(action: AliasAction, to: string | null): this {
    const from = this.events.at(-1)?.to ?? null;
    this.events.push({
      id: this.events.length + 1,
      artifact: "resnet",
      alias: "production",
      action,
      from,
      to,
      actor: "ada",
      at: new Date(Date.UTC(2024, 2, 1 + this.events.length)).toISOString(),
      reason: null,
    });
    return this;
  }

  set(version: string): this {
    return this.record("set", version);
  }

  remove(): this {
    return this.record("remove", null);
  }

  /** Plans a rollback, records it, and returns where it went. */
  rollback(to?: string): string {
    const plan = planRollback("resnet", "production", this.events, to);
    expect(plan.from).toBe(this.events.at(-1)?.to ?? null);
    this.record("rollback", plan.to);
    return plan.to;
  }

  /** What a further rollback would do, without recording it. */
  plan(to?: string) {
    return planRollback("resnet", "production", this.events, to);
  }
}

describe("rollback", () => {
  it("moves production back to the version it held before", () => {
    const history = new History().set("1.0.0").set("1.1.0").set("1.2.0");
    expect(history.plan()).toEqual({ from: "1.2.0", to: "1.1.0" });
  });

  it("a second rollback goes back one more release, like undo", () => {
    const history = new History().set("1.0.0").set("1.1.0").set("1.2.0");
    expect(history.rollback()).toBe("1.1.0");
    expect(history.rollback()).toBe("1.0.0");
  });

  it("past the first target there is nothing to roll back to: CONFLICT, with a hint", () => {
    const history = new History().set("1.0.0").set("1.1.0").set("1.2.0");
    history.rollback();
    history.rollback();
    const error = caught("CONFLICT", () => history.plan());
    expect(error.message).toBe("resnet@production has no earlier target to roll back to");
    expect(error.hint).toMatch(/--to VERSION/);
  });

  it("an alias set only once, or never, has no earlier target", () => {
    caught("CONFLICT", () => new History().set("1.0.0").plan());
    caught("CONFLICT", () => new History().plan());
  });

  it("a release after a rollback becomes the new top, and undo starts from it", () => {
    const history = new History().set("1.0.0").set("1.1.0").set("1.2.0");
    expect(history.rollback()).toBe("1.1.0");
    history.set("1.3.0");
    expect(history.rollback()).toBe("1.1.0");
    expect(history.rollback()).toBe("1.0.0");
  });

  it("setting an alias back by hand is undone like any other set", () => {
    const history = new History().set("1.0.0").set("1.1.0").set("1.0.0");
    expect(history.rollback()).toBe("1.1.0");
    expect(history.rollback()).toBe("1.0.0");
  });

  it("after a removal, rollback restores the last version the alias held", () => {
    const history = new History().set("1.0.0").set("1.1.0").remove();
    expect(history.plan()).toEqual({ from: null, to: "1.1.0" });
    expect(history.rollback()).toBe("1.1.0");
    expect(history.rollback()).toBe("1.0.0");
  });

  it("rollback never restores an absence: a removal in the middle is skipped", () => {
    const history = new History().set("1.0.0").remove().set("1.1.0");
    expect(history.rollback()).toBe("1.0.0");
    caught("CONFLICT", () => history.plan());
  });

  it("--to moves to the named version, even one the alias never held", () => {
    const history = new History().set("1.0.0").set("1.1.0").set("1.2.0");
    expect(history.plan("0.9.0")).toEqual({ from: "1.2.0", to: "0.9.0" });
    expect(history.rollback("1.0.0")).toBe("1.0.0");
  });

  it("a rollback with --to is undone by the next rollback", () => {
    const history = new History().set("1.0.0").set("1.1.0").set("1.2.0");
    history.rollback("1.0.0");
    expect(history.rollback()).toBe("1.2.0");
  });

  it("--to works on a removed alias", () => {
    expect(new History().set("1.0.0").remove().plan("1.0.0")).toEqual({ from: null, to: "1.0.0" });
  });

  it("rolling back to the current target is a CONFLICT", () => {
    const history = new History().set("1.0.0").set("1.1.0");
    const error = caught("CONFLICT", () => history.plan("1.1.0"));
    expect(error.message).toBe("resnet@production already points at 1.1.0");
  });
});

describe("the stack of targets an alias has held", () => {
  it("each set and removal pushes a target", () => {
    expect(aliasTargetStack(new History().set("1.0.0").set("1.1.0").remove().set("1.2.0").events)).toEqual([
      "1.0.0",
      "1.1.0",
      null,
      "1.2.0",
    ]);
  });

  it("a rollback to the previous target pops back to it", () => {
    const history = new History().set("1.0.0").set("1.1.0").set("1.2.0");
    history.rollback();
    expect(aliasTargetStack(history.events)).toEqual(["1.0.0", "1.1.0"]);
    history.rollback();
    expect(aliasTargetStack(history.events)).toEqual(["1.0.0"]);
  });

  it("a rollback elsewhere (--to) pushes like a set", () => {
    const history = new History().set("1.0.0").set("1.1.0").set("1.2.0");
    history.rollback("1.0.0");
    expect(aliasTargetStack(history.events)).toEqual(["1.0.0", "1.1.0", "1.2.0", "1.0.0"]);
  });

  it("an empty history is an empty stack", () => {
    expect(aliasTargetStack([])).toEqual([]);
  });
});
