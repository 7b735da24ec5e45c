/**
 * @module Multinomial logistic (softmax) regression, trained by full-batch gradient descent with L2, and its
 * evaluation (accuracy, macro-F1, cross-entropy). Written out by hand, in a page, so the demo needs no ML
 * library and every number it records can be traced to a line here.
 */
import type { Sample } from "./data.js";

export interface Hyperparams {
  learningRate: number;
  epochs: number;
  /** Weight of the L2 penalty (λ/2)·‖W‖² on the weights (not the biases). */
  l2: number;
}

/** What `model.json` holds: everything needed to predict, with no code but `predictProba` below. */
export interface SoftmaxModel {
  format: "softmax-regression/v1";
  features: string[];
  classes: string[];
  /** Standardisation fitted on the training split: x' = (x − mean) / std. */
  mean: number[];
  std: number[];
  /** One row of weights per class, over the standardised features. */
  weights: number[][];
  bias: number[];
}

export interface Evaluation {
  accuracy: number;
  /** Unweighted mean of the per-class F1 scores, so no class can hide behind the others. */
  macroF1: number;
  /** Mean cross-entropy of the true class. */
  loss: number;
  /** confusion[actual][predicted], counts. */
  confusion: number[][];
}

const sum = (values: readonly number[]): number => values.reduce((a, b) => a + b, 0);
const mean = (values: readonly number[]): number => sum(values) / values.length;
const dot = (a: readonly number[], b: readonly number[]): number => sum(a.map((ai, i) => ai * b[i]!));

function softmax(logits: readonly number[]): number[] {
  // Shifting by the maximum changes nothing mathematically and keeps exp() from overflowing.
  const top = Math.max(...logits);
  const exps = logits.map((z) => Math.exp(z - top));
  const total = sum(exps);
  return exps.map((e) => e / total);
}

const standardise = (model: Pick<SoftmaxModel, "mean" | "std">, x: readonly number[]): number[] =>
  x.map((v, j) => (v - model.mean[j]!) / model.std[j]!);

const probabilities = (model: SoftmaxModel, z: readonly number[]): number[] =>
  softmax(model.weights.map((w, k) => dot(w, z) + model.bias[k]!));

/** Class probabilities for one raw (unstandardised) sample, in `model.classes` order. */
export function predictProba(model: SoftmaxModel, x: readonly number[]): number[] {
  return probabilities(model, standardise(model, x));
}

export function predict(model: SoftmaxModel, x: readonly number[]): string {
  const p = predictProba(model, x);
  return model.classes[p.indexOf(Math.max(...p))]!;
}

function classIndex(classes: readonly string[], species: string): number {
  const k = classes.indexOf(species);
  if (k < 0) throw new Error(`unknown species ${species}; the model knows ${classes.join(", ")}`);
  return k;
}

/**
 * Fits the model. The loss is convex, so starting from all-zero weights loses nothing and needs no random
 * numbers: the same data and hyperparameters give the same bytes in model.json on every run.
 */
export function train(
  samples: readonly Sample[],
  features: readonly string[],
  classes: readonly string[],
  hp: Hyperparams,
): SoftmaxModel {
  const columns = features.map((_, j) => samples.map((s) => s.x[j]!));
  const mu = columns.map(mean);
  // Features on one scale let a single learning rate suit them all; a constant column keeps std 1.
  const sigma = columns.map((c, j) => Math.sqrt(mean(c.map((v) => (v - mu[j]!) ** 2))) || 1);
  const data = samples.map((s) => ({
    z: standardise({ mean: mu, std: sigma }, s.x),
    target: classIndex(classes, s.species),
  }));

  const model: SoftmaxModel = {
    format: "softmax-regression/v1",
    features: [...features],
    classes: [...classes],
    mean: mu,
    std: sigma,
    weights: classes.map(() => features.map(() => 0)),
    bias: classes.map(() => 0),
  };
  for (let epoch = 0; epoch < hp.epochs; epoch++) {
    // ∂loss/∂logit_k = p_k − [k = target], per sample; the weight gradient is that times the input.
    const errors = data.map(({ z, target }) => ({
      z,
      e: probabilities(model, z).map((p, k) => p - (k === target ? 1 : 0)),
    }));
    const weights = model.weights.map((w, k) =>
      w.map(
        (wkj, j) => wkj - hp.learningRate * (mean(errors.map(({ z, e }) => e[k]! * z[j]!)) + hp.l2 * wkj),
      ),
    );
    const bias = model.bias.map((b, k) => b - hp.learningRate * mean(errors.map(({ e }) => e[k]!)));
    model.weights = weights;
    model.bias = bias;
  }
  return model;
}

export function evaluate(model: SoftmaxModel, samples: readonly Sample[]): Evaluation {
  const k = model.classes.length;
  const confusion = model.classes.map(() => new Array<number>(k).fill(0));
  const losses = samples.map((s) => {
    const p = predictProba(model, s.x);
    const actual = classIndex(model.classes, s.species);
    const predicted = p.indexOf(Math.max(...p));
    confusion[actual]![predicted]!++;
    // Clamped so one confident mistake gives a large, finite loss rather than Infinity.
    return -Math.log(Math.max(p[actual]!, 1e-15));
  });
  const f1s = model.classes.map((_, c) => {
    const tp = confusion[c]![c]!;
    const predictedC = sum(confusion.map((row) => row[c]!));
    const actualC = sum(confusion[c]!);
    return tp === 0 ? 0 : (2 * tp) / (predictedC + actualC);
  });
  return {
    accuracy: sum(model.classes.map((_, c) => confusion[c]![c]!)) / samples.length,
    macroF1: mean(f1s),
    loss: mean(losses),
    confusion,
  };
}

/**
 * Best by held-out accuracy. Ties are common on a 30-flower test set (one flower is 3.3 points), so the lower
 * held-out loss — the more confident correct answers — decides them, then the earlier version.
 */
export function best<T extends { test: Pick<Evaluation, "accuracy" | "loss"> }>(models: readonly T[]): T {
  const [first, ...rest] = models;
  if (first === undefined) throw new Error("no models to choose from");
  return rest.reduce(
    (a, b) =>
      b.test.accuracy > a.test.accuracy || (b.test.accuracy === a.test.accuracy && b.test.loss < a.test.loss)
        ? b
        : a,
    first,
  );
}
