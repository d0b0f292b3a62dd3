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
  const runAll = (x: Tensor4D): Tensor[] =>
    tf.tidy(() => {
      const values: Tensor[] = [];
      const at = (i: number) => (i < 0 ? x : values[i]);
      for (const step of steps) values.push(execute(step, at));
      return outputs.map((i) => values[i]);
    });
  const run = (x: Tensor4D): Tensor => {
    if (outputs.length !== 1) throw new Error(`the plan has ${outputs.length} outputs: use runAll`);
    return runAll(x)[0];
  };
  return { run, runAll, dispose: () => tf.dispose(tensors) };
}

function execute(step: Step, at: (i: number) => Tensor): Tensor {
  const relu = (t: Tensor, on: boolean) => (on ? tf.relu(t) : t);
  switch (step.op) {
    case "alias":
      return at(step.input);
    case "conv":
      if (step.groups !== 1) {
        const y = groupedConv2d(
          at(step.input) as Tensor4D,
          step.filter,
          step.groups,
          step.stride,
          step.pad,
        );
        return relu(tf.add(y, step.bias), step.relu);
      }
      return tf.fused.conv2d({
        x: at(step.input) as Tensor4D,
        filter: step.filter,
        strides: step.stride,
        pad: convPadding(step.pad),
        bias: step.bias,
        activation: step.relu ? "relu" : "linear",
      });
    case "affine":
      return relu(tf.add(tf.mul(at(step.input), step.scale), step.shift), step.relu);
    case "gn": {
      const x = at(step.input) as Tensor4D;
      return relu(groupNorm(x, step.gamma, step.beta, step.groups, step.epsilon), step.relu);
    }
    case "relu":
      return tf.relu(at(step.input));
    case "maxpool": {
      const x = at(step.input) as Tensor4D;
      if (step.padding === "same") return tf.maxPool(x, step.size, step.stride, "same");
      return tf.maxPool(
        tf.pad(x, [[0, 0], [1, 1], [1, 1], [0, 0]]),
        step.size,
        step.stride,
        "valid",
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
    case "channelConv": {
      // The pooled [N,1,1,C] vector as N one-channel sequences of length C.
      const x = at(step.input);
      const [n, , , c] = x.shape;
      // 'same' pads an odd kernel (kernel − 1) / 2 at both ends at stride 1; a number would pad
      // the height tfjs adds inside conv1d too.
      const y = tf.conv1d(tf.reshape(x, [n, c, 1]) as tf.Tensor3D, step.filter, 1, "same");
      return tf.reshape(y, [n, 1, 1, c]);
    }
    case "dense":
      return tf.add(tf.matMul(at(step.input) as Tensor2D, step.kernel), step.bias);
  }
}
