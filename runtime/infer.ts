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
import { convPadding, depthwiseFilter, groupedConv2d } from "./conv.ts";
import { groupNorm } from "./group_norm.ts";

type Step =
  | {
    op: "conv";
    input: number;
    /** HWIO; for a grouped conv, the depthwise filter of {@link depthwiseFilter}. */
    filter: Tensor4D;
    bias: tf.Tensor1D;
    stride: number;
    pad: number;
    groups: number;
    relu: boolean;
  }
  | { op: "affine"; input: number; scale: tf.Tensor1D; shift: tf.Tensor1D; relu: boolean }
  | {
    op: "gn";
    input: number;
    gamma: tf.Tensor1D;
    beta: tf.Tensor1D;
    groups: number;
    epsilon: number;
    relu: boolean;
  }
  | { op: "relu"; input: number }
  | { op: "maxpool"; input: number; size: number; stride: number; padding: "zeros" | "same" }
  | { op: "avgpool"; input: number; size: number; stride: number }
  | { op: "subsample"; input: number; stride: number; mode: "slice" | "avgpool" }
  | { op: "padChannels"; input: number; before: number; after: number }
  | { op: "add"; inputs: [number, number]; relu: boolean }
  | { op: "globalPool"; input: number; kind: "avg" | "max"; keepDims: boolean }
  | { op: "sigmoid"; input: number }
  | { op: "mul"; inputs: [number, number] }
  | { op: "channelConv"; input: number; filter: tf.Tensor3D }
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
    if ("inputs" in node) node.inputs.forEach((i) => uses[i]++);
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
        const hwio = tf.tensor4d(kernel, [
          node.kernel,
          node.kernel,
          node.inChannels / node.groups,
          node.outChannels,
        ]);
        steps.push({
          op: "conv",
          input: node.input,
          filter: keep(node.groups === 1 ? hwio : depthwiseFilter(hwio, node.groups)),
          bias: keep(tf.tensor1d(bias)),
          stride: node.stride,
          pad: node.pad,
          groups: node.groups,
          relu: false,
        });
        if (node.groups !== 1) hwio.dispose();
        return;
      }
      case "gn":
        steps.push({
          op: "gn",
          input: node.input,
          gamma: keep(tf.tensor1d(weightData(weights, `${node.name}/gamma`))),
          beta: keep(tf.tensor1d(weightData(weights, `${node.name}/beta`))),
          groups: node.groups,
          epsilon: node.epsilon,
          relu: false,
        });
        return;
      case "channelConv":
        steps.push({
          op: "channelConv",
          input: node.input,
          filter: keep(
            tf.tensor3d(weightData(weights, `${node.name}/kernel`), [node.kernel, 1, 1]),
          ),
        });
        return;
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
    peakBytesPerImage: (height, width) => peakElements(plan, steps, release, height, width) * 4,
    dispose: () => tf.dispose(tensors),
  };
}

/** The step whose tensor a node's value is: aliases followed back (-1 for the input). */
function resolveAlias(steps: Step[], index: number): number {
  let i = index;
  for (let step = steps[i]; i >= 0 && step.op === "alias"; step = steps[i]) i = step.input;
  return i;
}

/** The values a step reads. */
function stepInputs(step: Step): number[] {
  return "inputs" in step ? step.inputs : [step.input];
}

/**
 * For each step, the steps whose tensors it reads for the last time (aliases resolved): what
 * `run` frees once the step is done. The outputs are never freed.
 */
function releaseSchedule(steps: Step[], outputs: number[]): number[][] {
  const lastReader = new Map<number, number>();
  steps.forEach((step, i) => {
    if (step.op === "alias") return;
    for (const input of stepInputs(step)) lastReader.set(resolveAlias(steps, input), i);
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

/** An activation's shape for one image: height, width, channels (1, 1, features once pooled). */
type ImageShape = [number, number, number];

/** The shape of each plan node's value for one image of `height`×`width`. */
function imageShapes(plan: Plan, height: number, width: number): ImageShape[] {
  const shapes: ImageShape[] = [];
  const out = (size: number, kernel: number, stride: number, pad: number) =>
    Math.floor((size + 2 * pad - kernel) / stride) + 1;
  for (const node of plan.nodes) {
    const [h, w, c] = "input" in node ? shapes[node.input] : [height, width, 3];
    switch (node.op) {
      case "conv":
        shapes.push([
          out(h, node.kernel, node.stride, node.pad),
          out(w, node.kernel, node.stride, node.pad),
          node.outChannels,
        ]);
        break;
      case "maxpool":
        shapes.push(
          node.padding === "same"
            ? [Math.ceil(h / node.stride), Math.ceil(w / node.stride), c]
            : [out(h, node.size, node.stride, 1), out(w, node.size, node.stride, 1), c],
        );
        break;
      case "avgpool":
        shapes.push([Math.ceil(h / node.stride), Math.ceil(w / node.stride), c]);
        break;
      case "subsample": {
        const size = node.mode === "avgpool" ? Math.floor : Math.ceil;
        shapes.push([size(h / node.stride), size(w / node.stride), c]);
        break;
      }
      case "padChannels":
        shapes.push([h, w, c + node.before + node.after]);
        break;
      case "add":
      case "mul": {
        // A gate broadcasts a 1×1 vector over the map: the larger of the two.
        const [a, b] = node.inputs.map((i) => shapes[i]);
        shapes.push([Math.max(a[0], b[0]), Math.max(a[1], b[1]), Math.max(a[2], b[2])]);
        break;
      }
      case "globalPool":
        shapes.push([1, 1, c]);
        break;
      case "dense":
        shapes.push([1, 1, node.outFeatures]);
        break;
      default:
        shapes.push([h, w, c]);
    }
  }
  return shapes;
}

/**
 * Elements a step holds besides its inputs and its result while it runs, for one image: the
 * depthwise product a grouped convolution sums over its groups, a padded copy, the
 * intermediates of a normalisation, an unfused ReLU's input.
 */
function scratchElements(
  step: Exclude<Step, { op: "alias" }>,
  input: ImageShape,
  output: ImageShape,
): number {
  const [h, w, c] = input;
  switch (step.op) {
    case "conv":
      return step.groups === 1 ? 0 : output[0] * output[1] * step.filter.shape[2] *
          step.filter.shape[3] + (step.relu ? output[0] * output[1] * output[2] : 0);
    case "maxpool":
      return step.padding === "zeros" ? (h + 2) * (w + 2) * c : 0;
    case "gn":
      return 2 * h * w * c;
    case "affine":
    case "add":
      return step.op === "affine" || step.relu ? h * w * c : 0;
    default:
      return 0;
  }
}

/** The most elements alive at once while `run` executes the steps for one image. */
function peakElements(
  plan: Plan,
  steps: Step[],
  release: number[][],
  height: number,
  width: number,
): number {
  const shapes = imageShapes(plan, height, width);
  const size = ([h, w, c]: ImageShape) => h * w * c;
  let alive = size(shapes[0]);
  let peak = alive;
  steps.forEach((step, i) => {
    if (step.op === "alias") return;
    const input = shapes[stepInputs(step)[0]] ?? shapes[0];
    alive += size(shapes[i]);
    peak = Math.max(peak, alive + scratchElements(step, input, shapes[i]));
    for (const done of release[i]) alive -= size(shapes[done]);
  });
  return peak;
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
      if (step.groups !== 1) {
        // Several kernels with temporaries of their own: a tidy of its own.
        return tf.tidy(() => {
          const y = groupedConv2d(
            at(step.input) as Tensor4D,
            step.filter,
            step.groups,
            step.stride,
            step.pad,
          );
          return relu(tf.add(y, step.bias), step.relu);
        });
      }
      return tf.fused.conv2d({
        x: at(step.input) as Tensor4D,
        filter: step.filter,
        strides: step.stride,
        pad: convPadding(step.pad),
        bias: step.bias,
        activation: step.relu ? "relu" : "linear",
      });
    case "affine": {
      const scaled = then(tf.mul(at(step.input), step.scale), (t) => tf.add(t, step.shift));
      return relu(scaled, step.relu);
    }
    case "gn":
      return tf.tidy(() => {
        const x = at(step.input) as Tensor4D;
        return relu(groupNorm(x, step.gamma, step.beta, step.groups, step.epsilon), step.relu);
      });
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
    case "avgpool":
      // 'same' puts the overhang at the end and averages only covered pixels: PyTorch's ceil mode
      // without counting padding, for a window as large as its stride.
      return tf.avgPool(at(step.input) as Tensor4D, step.size, step.stride, "same");
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
      return step.kind === "avg"
        ? tf.mean(at(step.input), [1, 2], step.keepDims)
        : tf.max(at(step.input), [1, 2], step.keepDims);
    case "sigmoid":
      return tf.sigmoid(at(step.input));
    case "mul":
      return tf.mul(at(step.inputs[0]), at(step.inputs[1]));
    case "channelConv":
      return tf.tidy(() => {
        // The pooled [N,1,1,C] vector as N one-channel sequences of length C.
        const x = at(step.input);
        const [n, , , c] = x.shape;
        // 'same' pads an odd kernel (kernel − 1) / 2 at both ends at stride 1; a number would
        // pad the height tfjs adds inside conv1d too.
        const y = tf.conv1d(tf.reshape(x, [n, c, 1]) as tf.Tensor3D, step.filter, 1, "same");
        return tf.reshape(y, [n, 1, 1, c]);
      });
    case "dense":
      return then(tf.matMul(at(step.input) as Tensor2D, step.kernel), (t) => tf.add(t, step.bias));
  }
}
