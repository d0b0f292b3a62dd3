/**
 * What a graph file records beyond its weights, and the check that a zoo spec computes exactly
 * that. ONNX and Keras graphs are read into one small description ({@link SourceGraph}: the
 * graph's operations with their inputs, in a form common to both), and {@link checkGraph} walks a
 * fitted plan node by node, finding the graph operation that computes each one and comparing
 * every attribute the spec fixes: kernel, stride, per-side padding, dilation and groups of each
 * convolution, BatchNorm epsilon, activation kinds and positions, pooling, the shortcuts'
 * subsampling and channel padding, the residual adds, flattening, the classifier, and that
 * nothing follows it. A graph that differs anywhere is no zoo ResNet: it runs as its own graph.
 *
 * A weights-only file has no such description; what it cannot tell is reported as an
 * assumption instead (`structure.ts`).
 *
 * @example
 * ```ts
 * import { importFile } from "./import.ts";
 * // A graph with TF's uneven padding and a trailing Softmax is no zoo ResNet.
 * const why = await importFile("testdata/fixtures/checkpoints/nhwc_uneven_softmax.onnx")
 *   .then(() => "", (error) => error.message);
 * console.log(why.includes("pads [0, 0, 1, 1]")); // true
 * ```
 *
 * @module
 */

import type { PlanNode } from "../arch/plan.ts";
import { describeLayer, type Fit, type SourceLayer } from "./align.ts";

/** Zero padding `[top, left, bottom, right]`. */
export type Pads = readonly [number, number, number, number];

/** One operation of a {@link SourceGraph}; `input`/`inputs` index earlier or later operations. */
export type GraphOp =
  & { name: string }
  & (
    /** The network input, in the layout the file declares (an ONNX Transpose at the entry makes it NHWC). */
    | { op: "input"; layout: "nchw" | "nhwc" }
    /** A convolution, BatchNorm or classifier, with its weights and recorded attributes. */
    | { op: "layer"; layer: SourceLayer; input: number }
    | { op: "relu"; input: number }
    | { op: "sigmoid"; input: number }
    | { op: "add"; inputs: number[] }
    /** A product of two computed values (an attention gate applied to its map). */
    | { op: "mul"; inputs: number[] }
    /** Zero padding of the spatial axes (Keras ZeroPadding2D, an ONNX Pad). */
    | { op: "zeroPad"; input: number; pads: Pads }
    /**
     * Max or average pooling; `pads` are ignored cells (ONNX pads of MaxPool, or of AveragePool
     * without count_include_pad), `"same"` TF's 'same'; `ceil` keeps a last window that
     * overhangs the input (ceil_mode), averaging what it covers.
     */
    | {
      op: "pool";
      kind: "max" | "avg";
      input: number;
      kernel: number;
      stride: number;
      pads: Pads | "same";
      ceil: boolean;
    }
    /** Every `steps`-th row and column from the first (a strided Slice). */
    | { op: "slice"; input: number; steps: readonly [number, number] }
    /** Zero channels before and after (an ONNX Pad of the channel axis). */
    | { op: "padChannels"; input: number; before: number; after: number }
    | { op: "globalPool"; kind: "avg" | "max"; input: number }
    /** A pooled [N, C, 1, 1] or [N, C] tensor to [N, C] (Flatten, Squeeze, Reshape). */
    | { op: "flatten"; input: number }
    /** Does nothing at inference (Identity, Dropout, a linear activation). */
    | { op: "identity"; input: number }
    /** Anything else: what it is, in the file's words. */
    | { op: "other"; inputs: number[]; what: string }
  );

/** A graph as {@link checkGraph} reads it. */
export interface SourceGraph {
  /** The operations. */
  ops: GraphOp[];
  /** The operation whose value the file outputs; `outputs` counts the file's outputs. */
  output: number;
  /** How many outputs the file has (a zoo ResNet has one). */
  outputs: number;
}

/** The inputs an operation reads. */
export function opInputs(op: GraphOp): number[] {
  if ("inputs" in op) return op.inputs;
  return "input" in op ? [op.input] : [];
}

/** An operation as messages name it, e.g. `Softmax 'probs'`. */
export function describeOp(op: GraphOp | undefined): string {
  if (!op) return "nothing";
  switch (op.op) {
    case "layer":
      return describeLayer(op.layer);
    case "other":
      return `${op.what} '${op.name}'`;
    case "pool":
      return `${
        op.kind === "max" ? "max" : "average"
      } pool '${op.name}' (${op.kernel}×${op.kernel}/${op.stride}${
        op.pads === "same"
          ? ", 'same'"
          : op.pads.some((p) => p)
          ? `, pads [${op.pads.join(", ")}]`
          : ""
      })`;
    case "slice":
      return `slice '${op.name}' (steps ${op.steps.join("×")})`;
    case "padChannels":
      return `channel pad '${op.name}' (${op.before} before, ${op.after} after)`;
    case "zeroPad":
      return `zero pad '${op.name}' [${op.pads.join(", ")}]`;
    case "globalPool":
      return `global ${op.kind} pool '${op.name}'`;
    case "relu":
      return `ReLU '${op.name}'`;
    default:
      return `${op.op} '${op.name}'`;
  }
}

const samePads = (a: Pads, b: Pads) => a.every((p, i) => p === b[i]);
const addPads = (a: Pads, b: Pads): Pads => [a[0] + b[0], a[1] + b[1], a[2] + b[2], a[3] + b[3]];
const NO_PADS: Pads = [0, 0, 0, 0];

/**
 * What the graph records about a convolution or BatchNorm that its plan node does not have, in
 * words; `zeroPad` is a zero padding the graph applies right before a convolution. This is the
 * one place a recorded attribute is compared with the plan.
 */
export function attributeMismatch(
  node: PlanNode,
  layer: SourceLayer,
  zeroPad: Pads = NO_PADS,
): string | null {
  const at = describeLayer(layer);
  if (layer.unsupported) return `${at} has ${layer.unsupported}`;
  if (node.op === "conv") {
    if (layer.groups !== undefined && layer.groups !== node.groups) {
      return `${at} has ${layer.groups} groups where the zoo's plan has ${node.groups}`;
    }
    if (
      layer.standardize !== undefined &&
      Math.abs(layer.standardize - node.standardize) > 1e-4 * node.standardize
    ) {
      return layer.standardize
        ? `${at} standardises its weights (ε ${layer.standardize}) where the spec has ${
          node.standardize ? `ε ${node.standardize}` : "plain convolutions"
        }`
        : `${at} uses its weights as they are where the spec standardises them`;
    }
    if (layer.dilation && layer.dilation.some((d) => d !== 1)) {
      return `${at} is dilated (${layer.dilation.join("×")}); the zoo's convolutions are not`;
    }
    if (layer.stride !== undefined && layer.stride !== node.stride) {
      return `${at} has stride ${layer.stride} where the zoo's plan has ${node.stride}`;
    }
    if (layer.pads === "same" && zeroPad.some((p) => p)) return `${at} pads twice`;
    const pads = layer.pads === "same" ? null : addPads(layer.pads ?? NO_PADS, zeroPad);
    const p = node.pad;
    if (layer.pads !== undefined || zeroPad.some((q) => q)) {
      if (!pads) {
        return `${at} pads TF-style 'same' at stride ${node.stride} (more at the end); the zoo's convolutions pad ${p} on every side`;
      }
      if (!samePads(pads, [p, p, p, p])) {
        return `${at} has pads [${
          pads.join(", ")
        }] (top, left, bottom, right); the zoo's plan pads ${p} on every side`;
      }
    }
  }
  if ((node.op === "bn" || node.op === "gn") && layer.epsilon !== undefined) {
    if (Math.abs(layer.epsilon - node.epsilon) > 1e-4 * node.epsilon) {
      return `${at} has epsilon ${layer.epsilon} where the spec has ${node.epsilon}`;
    }
  }
  if (node.op === "gn" && layer.groups !== undefined && layer.groups !== node.groups) {
    return `${at} has ${layer.groups} groups where the spec has ${node.groups}`;
  }
  return null;
}

/** Where the walk stopped: the reason, and how many plan nodes matched before it. */
export interface GraphMismatch {
  /** Why the graph is not the plan, naming the operations. */
  reason: string;
  /** Plan nodes matched before the mismatch (of several candidate specs, the furthest is told). */
  progress: number;
}

/** The graph's operations that read each operation, identities looked through. */
function readers(graph: SourceGraph, skip: (i: number) => number): number[][] {
  const found: number[][] = graph.ops.map(() => []);
  graph.ops.forEach((op, i) => {
    if (op.op === "identity") return;
    for (const input of opInputs(op)) if (input >= 0) found[skip(input)].push(i);
  });
  return found;
}

/**
 * Checks that a fitted plan computes what the graph computes: each plan node is found in the
 * graph (its weighted layers where the alignment put them, every other node among the readers
 * of its input), with every attribute compared, and the graph's output is the plan's. Returns
 * null when it does, else where and why not.
 *
 * @example
 * ```ts
 * import { importFile } from "./import.ts";
 * // A Softmax after the classifier: the zoo's models output logits, so the graph runs as its own.
 * const why = await importFile("testdata/fixtures/checkpoints/nhwc_softmax.onnx")
 *   .then(() => "", (error) => error.message);
 * console.log(why.includes("Softmax")); // true
 * ```
 */
export function checkGraph(fit: Fit, graph: SourceGraph): GraphMismatch | null {
  const { plan, assigned } = fit;
  const { ops } = graph;
  const skip = (i: number): number => {
    while (ops[i]?.op === "identity") i = (ops[i] as { input: number }).input;
    return i;
  };
  const readersOf = readers(graph, skip);
  const opOfLayer = new Map<SourceLayer, number>();
  ops.forEach((op, i) => op.op === "layer" && opOfLayer.set(op.layer, i));
  const value: number[] = [];
  const fail = (n: number, reason: string): GraphMismatch => ({ reason, progress: n });
  /** Looks through flattening, which the zoo does implicitly after its global pool. */
  const unflatten = (i: number) => {
    for (i = skip(i); ops[i]?.op === "flatten"; i = skip((ops[i] as { input: number }).input));
    return i;
  };
  const readerOf = (n: number, input: number, what: string, test: (op: GraphOp) => boolean) => {
    const found = readersOf[input].find((r) => test(ops[r]));
    if (found !== undefined) return found;
    const read = readersOf[input].map((r) => describeOp(ops[r])).join(", ") || "nothing";
    return fail(n, `expected ${what} after ${describeOp(ops[input])}; the graph has ${read}`);
  };

  for (let n = 0; n < plan.nodes.length; n++) {
    const node = plan.nodes[n];
    let found: number | GraphMismatch;
    switch (node.op) {
      case "input": {
        found = ops.findIndex((op) => op.op === "input");
        if (found < 0) return fail(n, "the graph has no input");
        break;
      }
      case "conv":
      case "bn":
      case "gn":
      case "channelConv":
      case "dense": {
        const layer = assigned.get(n);
        if (!layer) {
          // A BatchNorm folded into its convolution: the conv's value is the BN's.
          value[n] = value[node.input];
          continue;
        }
        const i = opOfLayer.get(layer);
        if (i === undefined) return fail(n, `${describeLayer(layer)} is not in the graph`);
        let source = skip((ops[i] as { input: number }).input);
        let zeroPad = NO_PADS;
        const before = ops[source];
        if (node.op === "conv" && before?.op === "zeroPad") {
          zeroPad = before.pads;
          source = skip(before.input);
        }
        // A classifier, or ECA's conv across a pooled vector, reads it however it is shaped.
        if (node.op === "dense" || node.op === "channelConv") source = unflatten(source);
        if (source !== value[node.input]) {
          return fail(
            n,
            `${describeLayer(layer)} reads ${describeOp(ops[source])} where the zoo's plan reads ${
              describeOp(ops[value[node.input]])
            }`,
          );
        }
        const mismatch = attributeMismatch(node, layer, zeroPad);
        if (mismatch) return fail(n, mismatch);
        found = i;
        break;
      }
      case "relu":
        found = readerOf(n, value[node.input], "a ReLU", (op) => op.op === "relu");
        break;
      case "sigmoid": {
        // An ECA gate may be reshaped between its conv and the sigmoid.
        const input = value[node.input];
        const reshaped = readersOf[input].filter((r) => ops[r].op === "flatten");
        found = [input, ...reshaped].flatMap((i) => readersOf[i])
          .find((r) => ops[r].op === "sigmoid") ??
          fail(n, `expected a sigmoid (an attention gate) after ${describeOp(ops[input])}`);
        break;
      }
      case "mul": {
        const [map, gate] = node.inputs.map((i) => value[i]);
        found = readersOf[map].find((r) => {
          const op = ops[r];
          if (op.op !== "mul" || op.inputs.length !== 2) return false;
          const read = op.inputs.map(unflatten);
          return (read[0] === map && read[1] === gate) || (read[0] === gate && read[1] === map);
        }) ?? fail(
          n,
          `expected ${describeOp(ops[map])} times the gate ${describeOp(ops[gate])}; ` +
            "the graph multiplies no such pair",
        );
        break;
      }
      case "avgpool":
        found = readerOf(
          n,
          value[node.input],
          `a ${node.size}×${node.size}/${node.stride} average pool in ceil mode (before a projection)`,
          (op) =>
            op.op === "pool" && op.kind === "avg" && op.kernel === node.size &&
            op.stride === node.stride && op.ceil && op.pads !== "same" && !op.pads.some((p) => p),
        );
        break;
      case "maxpool": {
        const input = value[node.input];
        const reluBefore = plan.nodes[node.input].op === "relu";
        const fits = (pool: GraphOp, zeroPad: Pads) => {
          if (pool.op !== "pool" || pool.kind !== "max") return false;
          if (pool.kernel !== node.size || pool.stride !== node.stride) return false;
          if (node.padding === "same") return pool.pads === "same" && !zeroPad.some((p) => p);
          if (pool.pads === "same") return false;
          // Pads a max-pool ignores equal zeros only where no value is negative: after a ReLU.
          const ignored = pool.pads;
          return (samePads(zeroPad, [1, 1, 1, 1]) && !ignored.some((p) => p)) ||
            (reluBefore && samePads(addPads(zeroPad, ignored), [1, 1, 1, 1]));
        };
        const direct = readersOf[input].find((r) => fits(ops[r], NO_PADS));
        const padded = readersOf[input].flatMap((r) => {
          const pad = ops[r];
          return pad.op === "zeroPad" ? readersOf[r].filter((q) => fits(ops[q], pad.pads)) : [];
        });
        found = direct ?? padded[0] ??
          fail(
            n,
            `expected a 3×3/2 max pool padded as '${node.padding}' after ${
              describeOp(ops[input])
            }; the graph has ${
              readersOf[input].map((r) => describeOp(ops[r])).join(", ") || "nothing"
            }`,
          );
        break;
      }
      case "subsample": {
        const s = node.stride;
        const fits = (op: GraphOp) =>
          node.mode === "avgpool"
            ? op.op === "pool" && op.kind === "avg" && op.kernel === s && op.stride === s &&
              !op.ceil && op.pads !== "same" && !op.pads.some((p) => p)
            : (op.op === "slice" && op.steps[0] === s && op.steps[1] === s) ||
              (op.op === "pool" && op.kind === "max" && op.kernel === 1 && op.stride === s &&
                op.pads !== "same" && !op.pads.some((p) => p));
        const what = node.mode === "avgpool"
          ? `a ${s}×${s}/${s} average pool (the shortcut's subsampling)`
          : `every ${s}th pixel (the shortcut's subsampling)`;
        found = readerOf(n, value[node.input], what, fits);
        if (typeof found === "number") break;
        // A Slice per axis: rows, then columns (or the other way round).
        for (const first of readersOf[value[node.input]]) {
          const a = ops[first];
          if (a.op !== "slice" || node.mode !== "slice") continue;
          const second = readersOf[first].find((r) => {
            const b = ops[r];
            return b.op === "slice" && a.steps[0] * b.steps[0] === s &&
              a.steps[1] * b.steps[1] === s;
          });
          if (second !== undefined) {
            found = second;
            break;
          }
        }
        break;
      }
      case "padChannels":
        found = readerOf(
          n,
          value[node.input],
          `${node.before} zero channels before and ${node.after} after (the shortcut's padding)`,
          (op) => op.op === "padChannels" && op.before === node.before && op.after === node.after,
        );
        break;
      case "add": {
        const [a, b] = node.inputs.map((i) => value[i]);
        found = readersOf[a].find((r) => {
          const op = ops[r];
          if (op.op !== "add" || op.inputs.length !== 2) return false;
          const read = op.inputs.map(skip);
          return (read[0] === a && read[1] === b) || (read[0] === b && read[1] === a);
        }) ?? fail(
          n,
          `expected the sum of ${describeOp(ops[a])} and ${
            describeOp(ops[b])
          }; the graph adds no such pair`,
        );
        break;
      }
      case "globalPool":
        found = readerOf(
          n,
          value[node.input],
          `a global ${node.kind} pool`,
          (op) => op.op === "globalPool" && op.kind === node.kind,
        );
        break;
    }
    if (typeof found !== "number") return found;
    value[n] = found;
  }
  if (graph.outputs !== 1) {
    return fail(plan.nodes.length, `the graph has ${graph.outputs} outputs; a zoo ResNet has one`);
  }
  const last = value[plan.output];
  if (unflatten(graph.output) !== last) {
    const after = readersOf[last].map((r) => describeOp(ops[r])).join(", ");
    return fail(
      plan.nodes.length,
      `the graph does not end at ${describeOp(ops[last])}${
        after ? `: it goes on with ${after}` : ""
      } (the zoo's models output the classifier's logits)`,
    );
  }
  return null;
}
