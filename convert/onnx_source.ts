/**
 * An ONNX graph as the structure matcher reads it: its convolutions, BatchNorms and classifier
 * as {@link SourceLayer}s (weights in the zoo layout, attributes recorded), and every node as an
 * operation of a {@link SourceGraph}, so that a matched spec is checked against all of it.
 *
 * @example
 * ```ts
 * import { readOnnx } from "../formats/onnx.ts";
 * import { onnxSource } from "./onnx_source.ts";
 * const path = "testdata/fixtures/checkpoints/nhwc_resnet.onnx";
 * const { layers, graph } = onnxSource(await readOnnx(await Deno.readFile(path), path), path);
 * console.log(layers.length, graph.ops.find((op) => op.op === "input")); // 7 { op: "input", name: "input_1", layout: "nhwc" }
 * ```
 *
 * @module
 */

import type { OnnxModel, OnnxNode } from "../formats/onnx.ts";
import type { NamedTensor } from "../formats/tensor.ts";
import type { SourceLayer } from "./align.ts";
import { linearToDense, oihwToHwio, oiwToWio, toWeight } from "./layout.ts";
import { type ConstantValue, foldConstants } from "./onnx_constants.ts";
import type { GraphOp, Pads, SourceGraph } from "./source_graph.ts";

/** What an ONNX file tells the structure matcher. */
export interface OnnxSource {
  /** Convolutions, BatchNorms and classifiers in node order. */
  layers: SourceLayer[];
  /** Every node, for the check of a matched spec. */
  graph: SourceGraph;
  /** No ReLU follows a residual add (a pre-activation network). */
  preact: boolean;
  /** What the zoo computes differently from the graph: rounding to float16 or bfloat16. */
  assumptions: string[];
}

/** An end of a Slice that means "to the end of the axis". */
const TO_THE_END = 2 ** 31 - 1;

/** Convolution or pooling padding from `pads`/`auto_pad`; "same" where it depends on the size. */
function paddingOf(node: OnnxNode, kernel: number, stride: number): Pads | "same" {
  const auto = node.attributes.auto_pad;
  if (auto === "SAME_UPPER" || auto === "SAME_LOWER") {
    // TF 'same' pads kernel − stride in all when the size divides; symmetric only if that is even.
    if (kernel <= stride) return [0, 0, 0, 0];
    if (stride === 1 && kernel % 2 === 1) {
      const p = (kernel - 1) / 2;
      return [p, p, p, p];
    }
    return "same";
  }
  const pads = node.attributes.pads as number[] | undefined;
  return pads && pads.length === 4 ? [pads[0], pads[1], pads[2], pads[3]] : [0, 0, 0, 0];
}

/**
 * Reads an ONNX graph's layers and operations.
 *
 * Grouped convolutions (ResNeXt), 1-D convolutions (ECA), weight-standardised kernels and
 * GroupNorms (BiT) are read as the layers they are; what a zoo spec cannot compute is left for
 * the graph check to refuse.
 */
export function onnxSource(model: OnnxModel, file: string): OnnxSource {
  const { graph } = model;
  const constants = foldConstants(graph, model.opset);
  const tensors = new Map<string, NamedTensor>(graph.initializers);
  for (const node of graph.nodes) {
    const value = node.attributes.value;
    if (node.opType === "Constant" && value && typeof value === "object" && !Array.isArray(value)) {
      tensors.set(node.outputs[0], value);
    }
  }
  const producers = new Map(graph.nodes.flatMap((n) => n.outputs.map((o) => [o, n] as const)));
  /** The constant tensor behind a value, through Identity nodes. */
  const tensor = (name: string | undefined): NamedTensor | undefined => {
    let source = name ?? "";
    for (let p = producers.get(source); p?.opType === "Identity"; p = producers.get(source)) {
      source = p.inputs[0];
    }
    return tensors.get(source);
  };
  const weight = (name: string | undefined) => {
    const t = tensor(name);
    return t && toWeight(t, file);
  };

  const ops: GraphOp[] = [];
  const valueOp = new Map<string, number>();
  const push = (op: GraphOp, output: string): number => {
    valueOp.set(output, ops.length);
    return ops.push(op) - 1;
  };
  const layers: SourceLayer[] = [];
  /** Casts to a narrower float type, which the zoo's float32 arithmetic does not repeat. */
  const rounded: string[] = [];
  const inputName = graph.inputs[0]?.name;
  if (inputName) push({ op: "input", name: inputName, layout: "nchw" }, inputName);

  // A MatMul with a constant weight and the Add of a constant bias after it make one classifier.
  const biasAdds = new Map<string, string>();
  for (const node of graph.nodes) {
    if (node.opType !== "MatMul" || !tensor(node.inputs[1])) continue;
    const add = graph.nodes.find((n) =>
      n.opType === "Add" && n.inputs.includes(node.outputs[0]) &&
      n.inputs.some((i) => i !== node.outputs[0] && tensor(i))
    );
    if (add) biasAdds.set(add.outputs[0], node.outputs[0]);
  }

  /**
   * A conv weight computed from a constant by weight standardisation, as torch.onnx writes BiT's
   * StdConv2d: Div(Sub(W, ReduceMean(W)), Sqrt(Add(ReduceMean((W − mean)²), ε))). Gives W and ε.
   */
  const standardized = (name: string): { weight: string; epsilon: number } | null => {
    const div = producers.get(name);
    const sub = div?.opType === "Div" ? producers.get(div.inputs[0]) : undefined;
    const sqrt = div ? producers.get(div.inputs[1]) : undefined;
    const add = sqrt?.opType === "Sqrt" ? producers.get(sqrt.inputs[0]) : undefined;
    const mean = sub?.opType === "Sub" ? producers.get(sub.inputs[1]) : undefined;
    if (add?.opType !== "Add" || mean?.opType !== "ReduceMean" || !sub) return null;
    if (mean.inputs[0] !== sub.inputs[0] || !tensor(sub.inputs[0])) return null;
    const epsilon = add.inputs.map((i) => constants.get(i)).find((c) => c?.data.length === 1);
    return epsilon ? { weight: sub.inputs[0], epsilon: epsilon.data[0] } : null;
  };
  /** Nodes a pattern already read (a GroupNorm's Reshape, Mul and Add). */
  const consumed = new Set<string>();
  /**
   * A GroupNorm as torch.onnx writes it before opset 18: x reshaped to [N, groups, rest],
   * InstanceNormalization with unit scale and zero bias, reshaped back, times gamma, plus beta.
   */
  const groupNorm = (node: OnnxNode) => {
    const readerOf = (value: string, op: string) =>
      graph.nodes.find((n) => n.opType === op && n.inputs.includes(value));
    const grouped = producers.get(node.inputs[0]);
    const [scale, shift] = [node.inputs[1], node.inputs[2]].map((i) => tensor(i)?.data);
    const back = readerOf(node.outputs[0], "Reshape");
    const mul = back && readerOf(back.outputs[0], "Mul");
    const add = mul && readerOf(mul.outputs[0], "Add");
    const unit = scale && shift && Array.from(scale as Float32Array).every((v) => v === 1) &&
      Array.from(shift as Float32Array).every((v) => v === 0);
    if (grouped?.opType !== "Reshape" || !add || !unit) return null;
    const other = (n: OnnxNode, value: string) => n.inputs.find((i) => i !== value);
    const vector = (value: string | undefined) => {
      const t = tensor(value);
      return t && { ...toWeight(t, file), shape: [t.shape[0]] };
    };
    const layer: SourceLayer = {
      kind: "gn",
      name: node.name || node.outputs[0],
      weights: {
        gamma: vector(other(mul, back.outputs[0])),
        beta: vector(other(add, mul.outputs[0])),
      },
      groups: scale.length,
      epsilon: typeof node.attributes.epsilon === "number" ? node.attributes.epsilon : 1e-5,
    };
    if (!layer.weights.gamma || !layer.weights.beta) return null;
    return {
      layer,
      input: grouped.inputs[0],
      output: add.outputs[0],
      consumed: [back, mul, add].map((n) => n.outputs[0]),
    };
  };

  for (const node of graph.nodes) {
    const output = node.outputs[0];
    if (constants.has(output) || node.opType === "Constant" || consumed.has(output)) continue;
    const a = node.attributes;
    const name = node.name || output;
    const reads = node.inputs.filter((i) => valueOp.has(i)).map((i) => valueOp.get(i)!);
    const input = valueOp.get(node.inputs[0]) ?? -1;
    const int = (
      key: string,
      fallback: number,
    ) => (typeof a[key] === "number" ? a[key] as number : fallback);
    const other = () => push({ op: "other", name, inputs: reads, what: node.opType }, output);
    const folded = (index: number): ConstantValue | undefined => constants.get(node.inputs[index]);
    switch (node.opType) {
      case "Conv": {
        const groups = int("group", 1);
        const standardization = standardized(node.inputs[1]);
        const w = tensor(standardization?.weight ?? node.inputs[1]);
        const strides = (a.strides as number[] | undefined) ?? [1, 1];
        if (w?.shape.length === 3 && groups === 1) {
          // A 1-D convolution, as ECA's across the channels of a pooled vector.
          const pads = (a.pads as number[] | undefined) ?? [0, 0];
          const layer: SourceLayer = {
            kind: "conv1d",
            name,
            weights: { kernel: oiwToWio(w), bias: weight(node.inputs[2]) },
            stride: strides[0],
            unsupported: pads[0] !== pads[1] || 2 * pads[0] !== w.shape[2] - 1
              ? `pads [${pads.join(", ")}] for ${w.shape[2]} taps`
              : undefined,
          };
          layers.push(layer);
          push({ op: "layer", name, layer, input }, output);
          break;
        }
        if (!w || w.shape.length !== 4) {
          other();
          break;
        }
        const dilation = (a.dilations as number[] | undefined) ?? [1, 1];
        const layer: SourceLayer = {
          kind: "conv",
          name,
          // Transposed from the file's bytes: a kernel is never decoded in OIHW order first.
          weights: { kernel: oihwToHwio(w), bias: weight(node.inputs[2]) },
          stride: strides[0],
          pads: paddingOf(node, w.shape[2], strides[0]),
          dilation: [dilation[0], dilation[1]],
          groups,
          standardize: standardization?.epsilon ?? 0,
          unsupported: strides[0] !== strides[1] ? `a stride of ${strides.join("×")}` : undefined,
        };
        layers.push(layer);
        push({ op: "layer", name, layer, input }, output);
        break;
      }
      case "InstanceNormalization": {
        // A GroupNorm as torch.onnx writes it: see groupNorm below.
        const gn = groupNorm(node);
        if (!gn) {
          other();
          break;
        }
        layers.push(gn.layer);
        gn.consumed.forEach((o) => consumed.add(o));
        push({ op: "layer", name, layer: gn.layer, input: valueOp.get(gn.input) ?? -1 }, gn.output);
        break;
      }
      case "Sigmoid":
        push({ op: "sigmoid", name, input }, output);
        break;
      case "Mul":
        if (reads.length === 2 && node.inputs.length === 2) {
          push({ op: "mul", name, inputs: reads }, output);
        } else other();
        break;
      case "BatchNormalization": {
        const [gamma, beta, mean, variance] = node.inputs.slice(1, 5).map(weight);
        if (!mean || !variance) {
          other();
          break;
        }
        const layer: SourceLayer = {
          kind: "bn",
          name,
          weights: { gamma, beta, moving_mean: mean, moving_variance: variance },
          epsilon: typeof a.epsilon === "number" ? a.epsilon : 1e-5,
          // Opset 7's `spatial` only says what shape the statistics have: per channel, as here,
          // they are read per channel (MXNet wrote spatial=0 on per-channel statistics too).
          unsupported: int("training_mode", 0) === 1
            ? "training_mode=1"
            : mean.shape.length !== 1
            ? `statistics of shape [${mean.shape}] (per activation)`
            : undefined,
        };
        layers.push(layer);
        push({ op: "layer", name, layer, input }, output);
        break;
      }
      case "Gemm": {
        const w = tensor(node.inputs[1]);
        if (!w || w.shape.length !== 2) {
          other();
          break;
        }
        const scaled = int("transA", 0) !== 0
          ? "transA=1"
          : (a.alpha ?? 1) !== 1 || (a.beta ?? 1) !== 1
          ? `alpha ${a.alpha ?? 1}, beta ${a.beta ?? 1}`
          : undefined;
        const layer: SourceLayer = {
          kind: "dense",
          name,
          weights: {
            kernel: int("transB", 0) === 1 ? linearToDense(w) : toWeight(w, file),
            bias: weight(node.inputs[2]),
          },
          unsupported: scaled,
        };
        layers.push(layer);
        push({ op: "layer", name, layer, input }, output);
        break;
      }
      case "MatMul": {
        const w = tensor(node.inputs[1]);
        const add = [...biasAdds].find(([, matmul]) => matmul === output)?.[0];
        if (!w || w.shape.length !== 2 || !add) {
          other();
          break;
        }
        const addNode = graph.nodes.find((n) => n.outputs[0] === add)!;
        const layer: SourceLayer = {
          kind: "dense",
          name,
          weights: {
            kernel: toWeight(w, file),
            bias: weight(addNode.inputs.find((i) => i !== output)),
          },
        };
        layers.push(layer);
        const op = push({ op: "layer", name, layer, input }, output);
        valueOp.set(add, op);
        break;
      }
      case "Add":
      case "Sum":
        if (biasAdds.has(output)) break;
        if (reads.length === 2 && node.inputs.length === 2) {
          push({ op: "add", name, inputs: reads }, output);
        } else other();
        break;
      case "Relu":
        push({ op: "relu", name, input }, output);
        break;
      case "MaxPool":
      case "AveragePool": {
        const kernel = (a.kernel_shape as number[] | undefined) ?? [];
        const strides = (a.strides as number[] | undefined) ?? [1, 1];
        const pads = paddingOf(node, kernel[0], strides[0]);
        const padded = pads === "same" || pads.some((p) => p);
        const square = kernel.length === 2 && kernel[0] === kernel[1] && strides[0] === strides[1];
        const dilated = ((a.dilations as number[] | undefined) ?? [1, 1]).some((d) => d !== 1);
        const counted = node.opType === "AveragePool" && int("count_include_pad", 0) === 1 &&
          padded;
        // Ceil mode counts no padding only in an average pool without pads (torch's avg_down).
        const ceil = int("ceil_mode", 0) !== 0;
        if (!square || dilated || counted || (ceil && (padded || node.opType === "MaxPool"))) {
          other();
          break;
        }
        const kind = node.opType === "MaxPool" ? "max" : "avg";
        push(
          { op: "pool", name, kind, input, kernel: kernel[0], stride: strides[0], pads, ceil },
          output,
        );
        break;
      }
      case "GlobalAveragePool":
      case "GlobalMaxPool":
        push({
          op: "globalPool",
          name,
          kind: node.opType === "GlobalMaxPool" ? "max" : "avg",
          input,
        }, output);
        break;
      case "ReduceMean":
      case "ReduceMax": {
        const axes = ((a.axes as number[] | undefined) ?? folded(1)?.data ?? []).map((
          d,
        ) => (d < 0 ? d + 4 : d));
        if (axes.length === 2 && axes.includes(2) && axes.includes(3)) {
          const kind = node.opType === "ReduceMax" ? "max" : "avg";
          push({ op: "globalPool", name, kind, input }, output);
        } else other();
        break;
      }
      case "Flatten":
        if (int("axis", 1) === 1) push({ op: "flatten", name, input }, output);
        else other();
        break;
      case "Squeeze":
        push({ op: "flatten", name, input }, output);
        break;
      case "Reshape": {
        // A pooled vector regrouped (ECA's [N, C] → [N, 1, C] and its gate back to [N, C, 1, 1]).
        const from = ops[input];
        if (
          from?.op === "globalPool" || from?.op === "flatten" || from?.op === "sigmoid" ||
          (from?.op === "layer" && from.layer.kind === "conv1d")
        ) {
          push({ op: "flatten", name, input }, output);
          break;
        }
        const shape = folded(1)?.data;
        const computed = producers.get(node.inputs[1]);
        // [batch, -1] or [-1, channels]; or opset 9's Concat(Unsqueeze(Gather(Shape(x), 0)), [-1]).
        const flat = shape
          ? shape.length === 2 && (shape[0] <= 0 || shape[1] === -1)
          : computed?.opType === "Concat" &&
            constants.get(computed.inputs[computed.inputs.length - 1])?.data.join() === "-1";
        if (flat) push({ op: "flatten", name, input }, output);
        else other();
        break;
      }
      case "Identity":
      case "Dropout":
        push({ op: "identity", name, input }, output);
        break;
      case "Cast": {
        // To another float type: the structure is the same, the zoo computes it in float32.
        const to = int("to", 0);
        if (![1, 10, 11, 16].includes(to)) {
          other();
          break;
        }
        if (to === 10 || to === 16) {
          rounded.push(`'${name}' (${to === 10 ? "float16" : "bfloat16"})`);
        }
        push({ op: "identity", name, input }, output);
        break;
      }
      case "Transpose": {
        const perm = (a.perm as number[] | undefined)?.join();
        const entry = ops[input];
        if (perm === "0,3,1,2" && entry?.op === "input") {
          // An NHWC network transposed once at its entry, as tf2onnx writes Keras models.
          ops[input] = { ...entry, layout: "nhwc" };
          push({ op: "identity", name, input }, output);
        } else other();
        break;
      }
      case "Pad": {
        const pads = (a.pads as number[] | undefined) ?? folded(1)?.data;
        const value = typeof a.value === "number" ? a.value : folded(2)?.data[0] ?? 0;
        const mode = a.mode ?? "constant";
        if (!pads || pads.length !== 8 || mode !== "constant" || value !== 0 || node.inputs[3]) {
          other();
          break;
        }
        const [n0, c0, t, l, n1, c1, b, r] = pads;
        if (pads.some((p) => p < 0) || n0 || n1) other();
        else if (pads.every((p) => p === 0)) push({ op: "identity", name, input }, output);
        else if (!c0 && !c1) push({ op: "zeroPad", name, input, pads: [t, l, b, r] }, output);
        else if (!t && !l && !b && !r) {
          push({ op: "padChannels", name, input, before: c0, after: c1 }, output);
        } else other();
        break;
      }
      case "Slice": {
        const opset10 = model.opset >= 10;
        const starts = opset10 ? folded(1)?.data : (a.starts as number[] | undefined);
        const ends = opset10 ? folded(2)?.data : (a.ends as number[] | undefined);
        const axes = (opset10 ? folded(3)?.data : (a.axes as number[] | undefined)) ??
          starts?.map((_, i) => i);
        const stepsIn = opset10 ? folded(4)?.data ?? starts?.map(() => 1) : starts?.map(() => 1);
        if (!starts || !ends || !axes || !stepsIn) {
          other();
          break;
        }
        const steps: [number, number] = [1, 1];
        const plain = axes.every((raw, i) => {
          const d = raw < 0 ? raw + 4 : raw;
          if (starts[i] !== 0 || ends[i] < TO_THE_END || stepsIn[i] < 1) return false;
          if (d === 2 || d === 3) steps[d - 2] = stepsIn[i];
          return d === 2 || d === 3 || stepsIn[i] === 1;
        });
        if (plain) push({ op: "slice", name, input, steps }, output);
        else other();
        break;
      }
      default:
        other();
    }
  }
  const outputName = graph.outputs[0]?.name ?? "";
  // Residual adds sum two computed values; an Add of a constant is a bias (a GroupNorm's beta).
  const addOutputs = new Set(
    graph.nodes.filter((n) => n.opType === "Add" && !n.inputs.some((i) => tensor(i)))
      .map((n) => n.outputs[0]),
  );
  const reluAfterAdd = graph.nodes.some((n) => n.opType === "Relu" && addOutputs.has(n.inputs[0]));
  const precision = rounded.length === 0 ? [] : [
    `the graph rounds values to a narrower float type at ${rounded.slice(0, 3).join(", ")}${
      rounded.length > 3 ? ` and ${rounded.length - 3} more` : ""
    }; the zoo computes in float32, so its outputs can differ from the graph's by that rounding`,
  ];
  return {
    layers,
    graph: { ops, output: valueOp.get(outputName) ?? -1, outputs: graph.outputs.length },
    preact: !reluAfterAdd,
    assumptions: precision,
  };
}
