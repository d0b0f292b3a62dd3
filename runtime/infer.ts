/**
 * The inference path: every BatchNorm that follows a convolution is folded into it,
 * and each conv runs as one fused conv + bias (+ ReLU) kernel (`tf.fused.conv2d`).
 * Weights are uploaded once, when the graph is compiled.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core";
 * import { getSpec } from "../arch/presets.ts";
 * import { planResNet } from "../arch/plan.ts";
 * import { initialWeights } from "../arch/weights.ts";
 * import { useBackend } from "./backend.ts";
 * import { compileInference } from "./infer.ts";
 * await useBackend("cpu");
 * const plan = planResNet(getSpec("cifar_resnet20"));
 * const graph = compileInference(plan, initialWeights(plan));
 * const logits = graph.run(tf.zeros([1, 32, 32, 3]));
 * console.log(logits.shape); // [ 1, 10 ]
 * ```
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs-core";
import type { Tensor, Tensor2D, Tensor4D } from "./tensor.ts";
import { type Plan, planOutputs } from "../arch/plan.ts";
import type { WeightMap } from "../arch/weights.ts";
import { batchNormAffine, foldBatchNorm, weightData } from "../arch/fold.ts";

type Step =
  | {
    op: "conv";
    input: number;
    filter: Tensor4D;
    bias: tf.Tensor1D;
    stride: number;
    pad: number;
    relu: boolean;
  }
  | { op: "affine"; input: number; scale: tf.Tensor1D; shift: tf.Tensor1D; relu: boolean }
  | { op: "relu"; input: number }
  | { op: "maxpool"; input: number; size: number; stride: number; padding: "zeros" | "same" }
  | { op: "subsample"; input: number; stride: number; mode: "slice" | "avgpool" }
  | { op: "padChannels"; input: number; before: number; after: number }
  | { op: "add"; inputs: [number, number]; relu: boolean }
  | { op: "globalPool"; input: number; kind: "avg" | "max" }
  | { op: "dense"; input: number; kernel: Tensor2D; bias: tf.Tensor1D }
  | { op: "alias"; input: number };

/** A compiled, BN-folded inference graph; call {@link InferenceGraph.dispose} to free its weights. */
export interface InferenceGraph {
  /** Runs the graph on an NHWC float32 batch and returns its output (logits or features). */
  run(x: Tensor4D): Tensor;
  /** Runs the graph and returns every output of the plan (`planOutputs`), in order. */
  runAll(x: Tensor4D): Tensor[];
  /**
   * The most bytes of activations (input included) that {@link InferenceGraph.run} holds at
   * once for one image of this height and width: what a batch costs per image.
   */
  peakBytesPerImage(height: number, width: number): number;
  /** Frees the uploaded weights. */
  dispose(): void;
}

/**
 * Compiles a plan and its weights into a BN-folded inference graph.
 *
 * @example
 * ```ts
 * import { getSpec } from "../arch/presets.ts";
 * import { planResNet } from "../arch/plan.ts";
 * import { initialWeights } from "../arch/weights.ts";
 * import { useBackend } from "./backend.ts";
 * await useBackend("cpu");
 * const plan = planResNet(getSpec("resnet18"));
 * const graph = compileInference(plan, initialWeights(plan));
 * graph.dispose();
 * ```
 */
export function compileInference(plan: Plan, weights: WeightMap): InferenceGraph {
  const uses = new Array<number>(plan.nodes.length).fill(0);
  for (const node of plan.nodes) {
    if ("input" in node) uses[node.input]++;
    if (node.op === "add") node.inputs.forEach((i) => uses[i]++);
  }
  for (const output of planOutputs(plan)) uses[output]++;
  const single = (i: number) => uses[i] === 1;
  // Each node's value lives at the index of the step that produces it; folded nodes alias.
  const steps: Step[] = [];
  const tensors: Tensor[] = [];
  // Kept, so that a graph compiled on a first call inside `tf.tidy` survives the tidy.
  const keep = <T extends Tensor>(t: T): T => {
    tensors.push(tf.keep(t));
    return t;
  };
  plan.nodes.forEach((node, index) => {
    switch (node.op) {
      case "input":
        steps.push({ op: "alias", input: -1 });
        return;
      case "conv": {
        const next = plan.nodes[index + 1];
        const bn = next?.op === "bn" && next.input === index && single(index) ? next : null;
        const { kernel, bias } = foldBatchNorm(node, bn, weights);
        steps.push({
          op: "conv",
          input: node.input,
          filter: keep(
            tf.tensor4d(kernel, [node.kernel, node.kernel, node.inChannels, node.outChannels]),
          ),
          bias: keep(tf.tensor1d(bias)),
          stride: node.stride,
          pad: node.pad,
          relu: false,
        });
        return;
      }
      case "bn": {
        if (
          node.input === index - 1 && plan.nodes[node.input].op === "conv" && single(node.input)
        ) {
          steps.push({ op: "alias", input: index - 1 });
          return;
        }
        const { scale, shift } = batchNormAffine(node, weights);
        steps.push({
          op: "affine",
          input: node.input,
          scale: keep(tf.tensor1d(scale)),
          shift: keep(tf.tensor1d(shift)),
          relu: false,
        });
        return;
      }
      case "relu": {
        // Fuse into the producer when nothing else reads the pre-activation value.
        let producer = node.input;
        for (let s = steps[producer]; s.op === "alias" && s.input >= 0; s = steps[producer]) {
          producer = s.input;
        }
        const step = steps[producer];
        if (single(node.input) && "relu" in step) {
          step.relu = true;
          steps.push({ op: "alias", input: node.input });
        } else {
          steps.push({ op: "relu", input: node.input });
        }
        return;
      }
      case "dense": {
        steps.push({
          op: "dense",
          input: node.input,
          kernel: keep(
            tf.tensor2d(weightData(weights, `${node.name}/kernel`), [
              node.inFeatures,
              node.outFeatures,
            ]),
          ),
          bias: keep(tf.tensor1d(weightData(weights, `${node.name}/bias`))),
        });
        return;
      }
      case "add":
        steps.push({ op: "add", inputs: node.inputs, relu: false });
        return;
      default:
        steps.push(node);
    }
  });

  const outputs = planOutputs(plan);
  const roots = steps.map((_, i) => resolveAlias(steps, i));
  const release = releaseSchedule(steps, outputs);
  const runAll = (x: Tensor4D): Tensor[] =>
    // Each value is freed after its last reader, so a batch holds a few activations at a time,
    // not every layer's. Steps free their own temporaries too (a tidy per step costs 20 % on
    // small batches); the tidy around all of them catches any a kernel leaves behind.
    tf.tidy(() => {
      const values: (Tensor | null)[] = [];
      const at = (i: number) => (roots[i] < 0 ? x : values[roots[i]]!);
      steps.forEach((step, i) => {
        values.push(step.op === "alias" ? null : execute(step, at));
        for (const done of release[i]) {
          values[done]!.dispose();
          values[done] = null;
        }
      });
      return outputs.map(at);
    });
  const run = (x: Tensor4D): Tensor => {
    if (outputs.length !== 1) throw new Error(`the plan has ${outputs.length} outputs: use runAll`);
    return runAll(x)[0];
  };
  return {
    run,
    runAll,
    peakBytesPerImage: (height, width) => peakElements(steps, release, [height, width, 3]) * 4,
    dispose: () => tf.dispose(tensors),
  };
}

/** An activation's shape for one image: height, width, channels (1, 1, features once pooled). */
type ImageShape = [number, number, number];

/** The shape a step outputs for one image, from the shapes of what it reads. */
function stepShape(
  step: Exclude<Step, { op: "alias" }>,
  at: (i: number) => ImageShape,
): ImageShape {
  const out = (size: number, kernel: number, stride: number, pad: number) =>
    Math.floor((size + 2 * pad - kernel) / stride) + 1;
  switch (step.op) {
    case "conv": {
      const [h, w] = at(step.input);
      const [kernel, , , channels] = step.filter.shape;
      return [
        out(h, kernel, step.stride, step.pad),
        out(w, kernel, step.stride, step.pad),
        channels,
      ];
    }
    case "maxpool": {
      const [h, w, c] = at(step.input);
      if (step.padding === "same") {
        return [Math.ceil(h / step.stride), Math.ceil(w / step.stride), c];
      }
      return [out(h, step.size, step.stride, 1), out(w, step.size, step.stride, 1), c];
    }
    case "subsample": {
      const [h, w, c] = at(step.input);
      const size = step.mode === "avgpool" ? Math.floor : Math.ceil;
      return [size(h / step.stride), size(w / step.stride), c];
    }
    case "padChannels": {
      const [h, w, c] = at(step.input);
      return [h, w, c + step.before + step.after];
    }
    case "add":
      return at(step.inputs[0]);
    case "globalPool":
      return [1, 1, at(step.input)[2]];
    case "dense":
      return [1, 1, step.kernel.shape[1]];
    default:
      return at(step.input);
  }
}

/** The most elements alive at once while `run` executes the steps for one image. */
function peakElements(steps: Step[], release: number[][], input: ImageShape): number {
  const shapes: ImageShape[] = [];
  const at = (i: number) => {
    const root = resolveAlias(steps, i);
    return root < 0 ? input : shapes[root];
  };
  const size = ([h, w, c]: ImageShape) => h * w * c;
  let alive = size(input);
  let peak = alive;
  steps.forEach((step, i) => {
    if (step.op === "alias") {
      shapes.push(at(step.input));
      return;
    }
    shapes.push(stepShape(step, at));
    alive += size(shapes[i]);
    peak = Math.max(peak, alive);
    for (const done of release[i]) alive -= size(shapes[done]);
  });
  return peak;
}

/** The step whose tensor a node's value is: aliases followed back (-1 for the input). */
function resolveAlias(steps: Step[], index: number): number {
  let i = index;
  for (let step = steps[i]; i >= 0 && step.op === "alias"; step = steps[i]) i = step.input;
  return i;
}

/**
 * For each step, the steps whose tensors it reads for the last time (aliases resolved): what
 * `run` frees once the step is done. The outputs are never freed.
 */
function releaseSchedule(steps: Step[], outputs: number[]): number[][] {
  const lastReader = new Map<number, number>();
  steps.forEach((step, i) => {
    if (step.op === "alias") return;
    const inputs = step.op === "add" ? step.inputs : [step.input];
    for (const input of inputs) lastReader.set(resolveAlias(steps, input), i);
  });
  // A value nothing reads goes as soon as it is made.
  steps.forEach((step, i) => {
    if (step.op !== "alias" && !lastReader.has(i)) lastReader.set(i, i);
  });
  for (const output of outputs) lastReader.delete(resolveAlias(steps, output));
  lastReader.delete(-1);
  const release = steps.map((): number[] => []);
  for (const [produced, reader] of lastReader) release[reader].push(produced);
  return release;
}

function execute(step: Exclude<Step, { op: "alias" }>, at: (i: number) => Tensor): Tensor {
  // `then(t, f)`: f(t), with t freed once f has read it.
  const then = <T extends Tensor>(t: T, f: (t: T) => Tensor): Tensor => {
    const result = f(t);
    t.dispose();
    return result;
  };
  const relu = (t: Tensor, on: boolean) => (on ? then(t, tf.relu) : t);
  switch (step.op) {
    case "conv":
      return tf.fused.conv2d({
        x: at(step.input) as Tensor4D,
        filter: step.filter,
        strides: step.stride,
        pad: step.pad === 0
          ? "valid"
          : [[0, 0], [step.pad, step.pad], [step.pad, step.pad], [0, 0]],
        bias: step.bias,
        activation: step.relu ? "relu" : "linear",
      });
    case "affine": {
      const scaled = then(tf.mul(at(step.input), step.scale), (t) => tf.add(t, step.shift));
      return relu(scaled, step.relu);
    }
    case "relu":
      return tf.relu(at(step.input));
    case "maxpool": {
      const x = at(step.input) as Tensor4D;
      if (step.padding === "same") return tf.maxPool(x, step.size, step.stride, "same");
      return then(
        tf.pad(x, [[0, 0], [1, 1], [1, 1], [0, 0]]),
        (padded) => tf.maxPool(padded, step.size, step.stride, "valid"),
      );
    }
    case "subsample": {
      const x = at(step.input) as Tensor4D;
      if (step.mode === "avgpool") return tf.avgPool(x, step.stride, step.stride, "valid");
      return tf.stridedSlice(x, [0, 0, 0, 0], x.shape, [1, step.stride, step.stride, 1]);
    }
    case "padChannels":
      return tf.pad(at(step.input), [[0, 0], [0, 0], [0, 0], [step.before, step.after]]);
    case "add":
      return relu(tf.add(at(step.inputs[0]), at(step.inputs[1])), step.relu);
    case "globalPool":
      return step.kind === "avg" ? tf.mean(at(step.input), [1, 2]) : tf.max(at(step.input), [1, 2]);
    case "dense":
      return then(tf.matMul(at(step.input) as Tensor2D, step.kernel), (t) => tf.add(t, step.bias));
  }
}
