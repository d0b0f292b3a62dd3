/**
 * Writes a zoo plan and its weights as an ONNX model that onnxruntime (or any ONNX
 * runtime) can run: BatchNorms that follow a convolution are folded into it, the rest
 * become BatchNormalization nodes; weights are float32 `raw_data` initializers. The
 * input is `input` ([N,3,H,W], or [N,H,W,3] with `layout: "nhwc"`), the output
 * `logits` (with a classifier) or `features`.
 *
 * @example
 * ```ts
 * import { getSpec } from "../arch/presets.ts";
 * import { planResNet } from "../arch/plan.ts";
 * import { initialWeights } from "../arch/weights.ts";
 * import { exportOnnx } from "./onnx_export.ts";
 * const plan = planResNet(getSpec("cifar_resnet20"));
 * const bytes = await exportOnnx(plan, initialWeights(plan));
 * const path = await Deno.makeTempFile({ suffix: ".onnx" });
 * await Deno.writeFile(path, bytes);
 * console.log(bytes.length > 1e6); // true
 * ```
 *
 * @module
 */

import type { onnx as OnnxTypes } from "onnx-proto";
import type { BatchNormNode, ConvNode, DenseNode, Plan } from "../arch/plan.ts";
import { foldBatchNorm } from "../arch/fold.ts";
import { checkWeights, type WeightMap } from "../arch/weights.ts";
import { hwioToOihw } from "./layout.ts";
import { CONVERTER_VERSION } from "./zoofile.ts";
import { loadOnnxProto } from "../formats/libraries.ts";
import { float, GraphBuilder, int, ints, irVersionFor, tensorType, text } from "./onnx_graph.ts";
import { QdqWriter } from "./onnx_qdq.ts";
import type { Calibration } from "./quantize.ts";

/**
 * Options of {@link exportOnnx}.
 *
 * @example
 * ```ts
 * import { createModel } from "../runtime/model.ts";
 * import { exportOnnx, type OnnxExportOptions } from "./onnx_export.ts";
 * const options: OnnxExportOptions = { layout: "nhwc", opset: 17, batch: 1 };
 * const model = createModel("cifar_resnet20");
 * console.log((await exportOnnx(model.plan, model.weights, options)).length > 1e6); // true
 * ```
 */
export interface OnnxExportOptions {
  /** Input layout: `nchw` (default, as PyTorch) or `nhwc` (one Transpose at the entry, and at the exit of a 4-D output). */
  layout?: "nchw" | "nhwc";
  /** Operator set of the default domain, 11 to 18 (default 13). */
  opset?: number;
  /** A fixed batch size, or `dynamic` (default) for a symbolic `N`. */
  batch?: number | "dynamic";
  /**
   * Activation ranges from calibration: with them the export is an int8 graph in onnxruntime's
   * QDQ format (see `onnx_qdq.ts`); without, float32.
   */
  calibration?: Calibration;
}

/** Lowest and highest opsets whose operators this exporter emits with unchanged semantics. */
const OPSET_RANGE = [11, 18] as const;
/** Largest int64, the "to the end" of a Slice. */
const INT64_MAX = 0x7fffffffffffffffn;

/**
 * Plan indices in the order their nodes are written: a depth-first post-order from the
 * output that visits a residual add's main path before its shortcut. That is the order
 * torch.onnx writes torchvision blocks in, which the importer relies on to tell a
 * bottleneck's last 1×1 conv from an equally shaped projection.
 */
function writeOrder(plan: Plan): number[] {
  const order: number[] = [];
  const done = new Set<number>();
  const visit = (index: number): void => {
    if (done.has(index)) return;
    done.add(index);
    const node = plan.nodes[index];
    if (node.op === "add") [node.inputs[1], node.inputs[0]].forEach(visit);
    else if ("input" in node) visit(node.input);
    order.push(index);
  };
  visit(plan.output);
  return order;
}

/**
 * BatchNorms that fold into the convolution before them (the conv's only reader, as in
 * `compileInference`): BN index → conv index.
 */
function foldedBatchNorms(plan: Plan): Map<number, number> {
  const uses = new Array<number>(plan.nodes.length).fill(0);
  for (const node of plan.nodes) {
    if ("input" in node) uses[node.input]++;
    if (node.op === "add") node.inputs.forEach((i) => uses[i]++);
  }
  uses[plan.output]++;
  const folded = new Map<number, number>();
  plan.nodes.forEach((node, index) => {
    if (node.op === "bn" && plan.nodes[node.input].op === "conv" && uses[node.input] === 1) {
      folded.set(index, node.input);
    }
  });
  return folded;
}

function checkOptions(options: OnnxExportOptions): void {
  const opset = options.opset ?? 13;
  if (!Number.isInteger(opset) || opset < OPSET_RANGE[0] || opset > OPSET_RANGE[1]) {
    throw new RangeError(
      `opset ${opset} is not supported; use ${OPSET_RANGE[0]} to ${OPSET_RANGE[1]}`,
    );
  }
  const batch = options.batch ?? "dynamic";
  if (batch !== "dynamic" && !(Number.isInteger(batch) && batch > 0)) {
    throw new RangeError(`batch must be a positive integer or "dynamic", got ${batch}`);
  }
}

/**
 * Exports a plan with its weights (zoo layout, as `createModel` takes them) as ONNX
 * ModelProto bytes. The graph computes what `createModel(spec, { weights }).predict` does:
 * Conv (BN folded, symmetric pads), BatchNormalization for BNs that follow no conv
 * (pre-activation, post and input BNs), Relu, MaxPool (Keras' zero padding as Pad + MaxPool;
 * TF 'same' as `SAME_UPPER`), Slice with steps for subsampled shortcuts, Pad on the channel
 * axis for option-A shortcuts, Add, GlobalAveragePool/GlobalMaxPool + Flatten, and Gemm.
 *
 * @param plan The plan, head options applied (`planResNet(spec, { includeTop, pooling })`).
 * @param weights The plan's weights; checked against the plan first.
 * @param options Layout, opset (default 13) and batch dimension (default dynamic).
 * @returns The serialised model.
 * @throws {Error} If a weight is missing or misshapen; {RangeError} for an unsupported opset or batch.
 *
 * @example
 * ```ts
 * import { createModel } from "../runtime/model.ts";
 * const model = createModel("resnet50");
 * const bytes = await exportOnnx(model.plan, model.weights, { layout: "nhwc", batch: 1 });
 * console.log(bytes.length > 100e6); // true
 * ```
 */
export async function exportOnnx(
  plan: Plan,
  weights: WeightMap,
  options: OnnxExportOptions = {},
): Promise<Uint8Array> {
  return (await buildOnnx(plan, weights, options)).model;
}

/** An ONNX model whose float weights live in a separate file. */
export interface OnnxWithExternalData {
  /** The serialised model, naming the data file in each weight's `external_data`. */
  model: Uint8Array;
  /** The data file's contents, as chunks to write in order. */
  data: Uint8Array[];
}

/**
 * {@link exportOnnx} with the float weights in an external data file, which onnxruntime maps
 * from disk instead of parsing and copying: it opens the model faster and in less memory. The
 * caller writes `data` under the name `dataFile`, beside the model.
 *
 * @example
 * ```ts
 * import { createModel } from "../runtime/model.ts";
 * const model = createModel("resnet50");
 * const { model: graph, data } = await exportOnnxWithExternalData(
 *   model.plan,
 *   model.weights,
 *   "r50.onnx.data",
 * );
 * // Write `data` to r50.onnx.data (in order), then `graph` to r50.onnx.
 * console.log(graph.length < 1e6, data.length > 0); // true true
 * ```
 */
export async function exportOnnxWithExternalData(
  plan: Plan,
  weights: WeightMap,
  dataFile: string,
  options: OnnxExportOptions = {},
): Promise<OnnxWithExternalData> {
  if (!dataFile || dataFile.includes("/") || dataFile.includes("\\")) {
    throw new RangeError(`external data file must be a plain file name, got '${dataFile}'`);
  }
  return await buildOnnx(plan, weights, options, dataFile);
}

/**
 * The float32 export with one more output per listed plan node, named `node_<index>`, each the
 * node's value as the graph computes it: what calibration measures.
 *
 * @example
 * ```ts
 * import { createModel } from "../runtime/model.ts";
 * const model = createModel("cifar_resnet20");
 * const bytes = await exportOnnxWithOutputs(model.plan, model.weights, [0, 3]);
 * console.log(bytes.length > 1e6); // true
 * ```
 */
export async function exportOnnxWithOutputs(
  plan: Plan,
  weights: WeightMap,
  nodes: number[],
  options: Omit<OnnxExportOptions, "calibration"> = {},
): Promise<Uint8Array> {
  return (await buildOnnx(plan, weights, options, undefined, nodes)).model;
}

async function buildOnnx(
  plan: Plan,
  weights: WeightMap,
  options: OnnxExportOptions,
  externalFile?: string,
  tapped: number[] = [],
): Promise<OnnxWithExternalData> {
  checkOptions(options);
  checkWeights(plan, weights);
  const layout = options.layout ?? "nchw";
  const opset = options.opset ?? 13;
  const batch = options.batch ?? "dynamic";
  const batchDim = batch === "dynamic" ? "N" : batch;

  const graph = new GraphBuilder(externalFile);
  const qdq = options.calibration ? new QdqWriter(options.calibration) : undefined;
  const foldedInto = foldedBatchNorms(plan);
  const bnAfter = new Map(
    [...foldedInto].map(([bn, conv]) => [conv, plan.nodes[bn] as BatchNormNode]),
  );
  const outputNode = plan.nodes[plan.output];
  const outputName = outputNode.op === "dense" ? "logits" : "features";
  const spatialOutput = outputNode.op !== "dense" && outputNode.op !== "globalPool";
  const exitTranspose = spatialOutput && layout === "nhwc";
  const finalIndex = foldedInto.get(plan.output) ?? plan.output;

  const values: string[] = new Array(plan.nodes.length);
  const channels: number[] = new Array(plan.nodes.length);
  /** The value name a plan node writes: its own name, or the graph output's. */
  const name = (index: number, own: string) =>
    index === finalIndex && !exitTranspose ? outputName : own;

  for (const index of writeOrder(plan)) {
    const conv = foldedInto.get(index);
    if (conv !== undefined) {
      values[index] = values[conv];
      channels[index] = channels[conv];
    } else {
      values[index] = writeNode(index);
    }
    if (qdq?.quantizes(index)) values[index] = qdq.activation(graph, values[index], index);
  }

  /** Writes plan node `index` (no folded BatchNorm) and returns the value it computes. */
  function writeNode(index: number): string {
    const node = plan.nodes[index];
    const input = "input" in node ? values[node.input] : "";
    channels[index] = "input" in node ? channels[node.input] : 0;
    const inputScale = qdq && "input" in node ? () => qdq.scale(node.input) : undefined;
    switch (node.op) {
      case "input":
        channels[index] = node.channels;
        return layout === "nchw"
          ? "input"
          : graph.node("Transpose", ["input"], name(index, "input_nchw"), [
            ints("perm", [0, 3, 1, 2]),
          ]);
      case "conv":
        channels[index] = node.outChannels;
        return writeConv(graph, node, bnAfter.get(index) ?? null, weights, input, {
          output: name(index, node.name),
          qdq: qdq && { writer: qdq, inputScale: inputScale!() },
        });
      case "bn":
        return writeBatchNorm(graph, node, weights, input, name(index, node.name));
      case "relu":
        return graph.node("Relu", [input], name(index, `${input}/relu`));
      case "maxpool": {
        const attributes = [
          ints("kernel_shape", [node.size, node.size]),
          ints("strides", [node.stride, node.stride]),
        ];
        const out = name(index, `${input}/maxpool`);
        if (node.padding === "same") {
          // TF 'same' puts the odd padding at the end and ignores padded cells, as SAME_UPPER does.
          return graph.node("MaxPool", [input], out, [
            ...attributes,
            text("auto_pad", "SAME_UPPER"),
          ]);
        } else if (plan.nodes[node.input].op === "relu") {
          // After a ReLU no value is below zero, so Keras' zero padding equals MaxPool's own.
          return graph.node("MaxPool", [input], out, [...attributes, ints("pads", [1, 1, 1, 1])]);
        } else {
          const pads = graph.int64("pads_spatial_1", [0n, 0n, 1n, 1n, 0n, 0n, 1n, 1n]);
          const padded = graph.node("Pad", [input, pads], `${input}/zero_pad`);
          // onnxruntime's Pad fusion (level "basic") moves a zero Pad into MaxPool's `pads`, which
          // pad with -inf: wrong where a border window is all negative (Keras V2's raw stem
          // output). It leaves pools with an explicit auto_pad alone.
          return graph.node("MaxPool", [padded], out, [
            ...attributes,
            text("auto_pad", "VALID"),
          ]);
        }
      }
      case "subsample": {
        const s = BigInt(node.stride);
        const slice = [
          graph.int64("slice_starts", [0n, 0n]),
          graph.int64("slice_ends", [INT64_MAX, INT64_MAX]),
          graph.int64("slice_axes", [2n, 3n]),
          graph.int64(`slice_steps_${s}`, [s, s]),
        ];
        return graph.node("Slice", [input, ...slice], name(index, `${input}/subsample`));
      }
      case "padChannels": {
        const [before, after] = [BigInt(node.before), BigInt(node.after)];
        const padsName = `pads_channels_${before}_${after}`;
        const pads = graph.int64(padsName, [0n, before, 0n, 0n, 0n, after, 0n, 0n]);
        channels[index] += node.before + node.after;
        return graph.node("Pad", [input, pads], name(index, `${input}/pad_channels`));
      }
      case "add": {
        const [a, b] = node.inputs.map((i) => values[i]);
        channels[index] = channels[node.inputs[0]];
        return graph.node("Add", [a, b], name(index, `add_${index}`));
      }
      case "globalPool": {
        const op = node.kind === "avg" ? "GlobalAveragePool" : "GlobalMaxPool";
        const pooled = graph.node(op, [input], `${input}/${node.kind}_pool`);
        return graph.node("Flatten", [pooled], name(index, `${pooled}/flatten`), [
          int("axis", 1),
        ]);
      }
      case "dense":
        channels[index] = node.outFeatures;
        return writeDense(graph, node, weights, input, {
          output: name(index, node.name),
          qdq: qdq && { writer: qdq, inputScale: inputScale!() },
        });
    }
  }
  for (const index of tapped) graph.node("Identity", [values[index]], `node_${index}`);
  if (exitTranspose) {
    graph.node("Transpose", [values[finalIndex]], outputName, [ints("perm", [0, 2, 3, 1])]);
  }

  const c = channels[plan.output];
  const inputDims = layout === "nchw" ? [batchDim, 3, "H", "W"] : [batchDim, "H", "W", 3];
  const outputDims = !spatialOutput
    ? [batchDim, c]
    : layout === "nchw"
    ? [batchDim, c, "out_height", "out_width"]
    : [batchDim, "out_height", "out_width", c];
  const model: OnnxTypes.IModelProto = {
    irVersion: irVersionFor(opset),
    opsetImport: [{ domain: "", version: opset }],
    producerName: "denozoo",
    producerVersion: CONVERTER_VERSION,
    graph: {
      name: "resnet",
      node: graph.nodes,
      initializer: graph.initializers,
      input: [tensorType("input", inputDims)],
      output: [
        tensorType(outputName, outputDims),
        ...tapped.map((index) => ({
          name: `node_${index}`,
          type: { tensorType: { elemType: 1 } },
        })),
      ],
    },
  };
  const onnx = await loadOnnxProto();
  const encoded = onnx.ModelProto.encode(onnx.ModelProto.fromObject(model)).finish();
  // Under Deno's Node compatibility protobufjs writes a Node Buffer, whose `slice` is a view,
  // not a copy; hand out a plain Uint8Array over the same bytes.
  return {
    model: new Uint8Array(encoded.buffer, encoded.byteOffset, encoded.byteLength),
    data: graph.externalChunks,
  };
}

/** Where a Conv or Gemm writes its value, and for an int8 graph its input's scale. */
interface LayerOutput {
  /** The value's name. */
  output: string;
  /** int8: the QDQ writer and the scale of the (dequantized) input. */
  qdq?: { writer: QdqWriter; inputScale: number };
}

/**
 * A Conv node with the BatchNorm after it (if any) folded in; the kernel goes OIHW. In an int8
 * graph the folded kernel is quantized per output channel, which gives back a stored int8
 * kernel's own values (see `quantize.ts`).
 */
function writeConv(
  graph: GraphBuilder,
  node: ConvNode,
  bn: BatchNormNode | null,
  weights: WeightMap,
  input: string,
  { output, qdq }: LayerOutput,
): string {
  const { kernel, bias } = foldBatchNorm(node, bn, weights);
  const oihw = hwioToOihw({
    shape: [node.kernel, node.kernel, node.inChannels, node.outChannels],
    data: kernel,
  });
  const k = node.kernel;
  let parameters: string[];
  if (qdq) {
    const { value, scales } = qdq.writer.kernel(
      graph,
      `${node.name}.weight`,
      oihw.shape,
      oihw.data,
      0,
    );
    parameters = [value, qdq.writer.bias(graph, `${node.name}.bias`, bias, qdq.inputScale, scales)];
  } else {
    parameters = [
      graph.float(`${node.name}.weight`, oihw.shape, oihw.data),
      graph.float(`${node.name}.bias`, [node.outChannels], bias),
    ];
  }
  return graph.node("Conv", [input, ...parameters], output, [
    ints("kernel_shape", [k, k]),
    ints("strides", [node.stride, node.stride]),
    ints("pads", [node.pad, node.pad, node.pad, node.pad]),
    ints("dilations", [1, 1]),
    int("group", 1),
  ]);
}

/** A Gemm node of `[in, out]` weights; in an int8 graph, per-output int8 kernel and int32 bias. */
function writeDense(
  graph: GraphBuilder,
  node: DenseNode,
  weights: WeightMap,
  input: string,
  { output, qdq }: LayerOutput,
): string {
  const kernel = weights.get(`${node.name}/kernel`)!;
  const bias = weights.get(`${node.name}/bias`)!;
  let parameters: string[];
  if (qdq) {
    const { value, scales } = qdq.writer.kernel(
      graph,
      `${node.name}.weight`,
      kernel.shape,
      kernel.data,
      1,
    );
    parameters = [
      value,
      qdq.writer.bias(graph, `${node.name}.bias`, bias.data, qdq.inputScale, scales),
    ];
  } else {
    parameters = [
      graph.float(`${node.name}.weight`, kernel.shape, kernel.data),
      graph.float(`${node.name}.bias`, bias.shape, bias.data),
    ];
  }
  return graph.node("Gemm", [input, ...parameters], output, [int("transB", 0)]);
}

/** A BatchNormalization node; a non-affine BN gets unit scale and zero bias. */
function writeBatchNorm(
  graph: GraphBuilder,
  node: BatchNormNode,
  weights: WeightMap,
  input: string,
  output: string,
): string {
  const param = (p: string) => weights.get(`${node.name}/${p}`)!.data;
  const n = node.channels;
  const gamma = node.affine ? param("gamma") : new Float32Array(n).fill(1);
  const beta = node.affine ? param("beta") : new Float32Array(n);
  return graph.node(
    "BatchNormalization",
    [
      input,
      graph.float(`${node.name}.weight`, [n], gamma),
      graph.float(`${node.name}.bias`, [n], beta),
      graph.float(`${node.name}.running_mean`, [n], param("moving_mean")),
      graph.float(`${node.name}.running_var`, [n], param("moving_variance")),
    ],
    output,
    [float("epsilon", node.epsilon)],
  );
}
