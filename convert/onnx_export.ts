/**
 * Writes a zoo plan and its weights as an ONNX model that onnxruntime (or any ONNX
 * runtime) can run: BatchNorms that follow a convolution are folded into it, the rest
 * become BatchNormalization nodes; weights are float32 `raw_data` initializers. The
 * input is `input` ([N,3,H,W], or [N,H,W,3] with `layout: "nhwc"`), the output
 * `logits` (with a classifier) or `features`; a feature extractor's plan (`planFeatures`) gets
 * one output per map, `features_0`, `features_1`, …. The preprocessing and class names given
 * are recorded in `metadata_props` under the zoo file's keys (`usage_metadata.ts`), which the
 * zoo reads back from the file and other runtimes ignore.
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
import { type BatchNormNode, type DenseNode, type Plan, planOutputs } from "../arch/plan.ts";
import { checkWeights, type WeightMap } from "../arch/weights.ts";
import {
  GraphBuilder,
  int,
  ints,
  tensorType,
  text,
  writeBatchNorm,
  writeConv,
  writeGroupNorm,
} from "./onnx_graph.ts";
import { CONVERTER_VERSION } from "./zoofile.ts";
import { usageMetadata } from "./usage_metadata.ts";
import type { PreprocessSpec } from "../arch/preprocess.ts";
import type { Labels } from "../arch/labels.ts";
import { loadOnnxProto } from "../formats/libraries.ts";
import { QdqWriter } from "./onnx_qdq.ts";
import { type Calibration, checkInt8Plan } from "./quantize.ts";

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
  /**
   * Preprocessing the weights were trained with, recorded in `metadata_props` as
   * `denozoo.preprocess` (as a zoo file records it; see `usage_metadata.ts`).
   */
  preprocess?: PreprocessSpec;
  /**
   * Class names, recorded in `metadata_props` as `denozoo.labels` (a label set's name) or
   * `denozoo.class_names` (the names, one per output of the classifier).
   */
  labels?: Labels;
}

/** Lowest and highest opsets whose operators this exporter emits with unchanged semantics. */
const OPSET_RANGE = [11, 18] as const;
/** Largest int64, the "to the end" of a Slice. */
const INT64_MAX = 0x7fffffffffffffffn;

/** The ONNX IR version that introduced an opset's release (IR 7 up to opset 14, IR 8 after). */
function irVersionFor(opset: number): number {
  return opset <= 14 ? 7 : 8;
}

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
    else if (node.op === "mul") node.inputs.forEach(visit);
    else if ("input" in node) visit(node.input);
    order.push(index);
  };
  planOutputs(plan).forEach(visit);
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
    if ("inputs" in node) node.inputs.forEach((i) => uses[i]++);
  }
  for (const output of planOutputs(plan)) uses[output]++;
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
 * TF 'same' as `SAME_UPPER`), AveragePool in ceil mode before pooled projections, Slice with
 * steps (or AveragePool) for subsampled shortcuts, Pad on the channel axis for option-A
 * shortcuts, Add, attention as GlobalAveragePool, Conv (1×1, or 1-D across channels between
 * Reshapes for ECA), Sigmoid and Mul, GlobalAveragePool/GlobalMaxPool + Flatten, and Gemm.
 * Grouped convolutions keep their `group`; weight-standardised kernels are written
 * standardised; GroupNorm becomes Reshape, InstanceNormalization, Reshape, Mul and Add.
 *
 * @param plan The plan, head options applied (`planResNet(spec, { includeTop, pooling })`).
 * @param weights The plan's weights; checked against the plan first.
 * @param options Layout, opset (default 13), batch dimension (default dynamic), calibration, and
 *   the preprocessing and class names to record in `metadata_props`.
 * @returns The serialised model.
 * @throws {Error} If a weight is missing or misshapen; {RangeError} for an unsupported opset or
 *   batch, or class names that do not number the classifier's outputs.
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
  const metadataProps = usageProps(plan, options);
  const layout = options.layout ?? "nchw";
  const opset = options.opset ?? 13;
  const batch = options.batch ?? "dynamic";
  const batchDim = batch === "dynamic" ? "N" : batch;

  const graph = new GraphBuilder(externalFile);
  if (options.calibration) checkInt8Plan(plan);
  const qdq = options.calibration ? new QdqWriter(options.calibration) : undefined;
  /** In an int8 graph, what a conv or dense layer reading plan node `input` needs. */
  const int8Input = (input: number) => qdq && { writer: qdq, inputScale: qdq.scale(input) };
  const foldedInto = foldedBatchNorms(plan);
  const bnAfter = new Map(
    [...foldedInto].map(([bn, conv]) => [conv, plan.nodes[bn] as BatchNormNode]),
  );
  // One output is `logits` or `features`; a feature extractor's maps are `features_0`, ….
  const results = planOutputs(plan).map((index, k, all) => {
    const op = plan.nodes[index].op;
    const spatial = op !== "dense" && op !== "globalPool";
    return {
      index,
      // The node that writes the value: a BatchNorm folded into its conv is the conv.
      writer: foldedInto.get(index) ?? index,
      name: all.length > 1 ? `features_${k}` : op === "dense" ? "logits" : "features",
      spatial,
      exitTranspose: spatial && layout === "nhwc",
    };
  });

  const values: string[] = new Array(plan.nodes.length);
  const channels: number[] = new Array(plan.nodes.length);
  /** The value name a plan node writes: its own name, or a graph output's. */
  const name = (index: number, own: string) =>
    results.find((r) => r.writer === index && !r.exitTranspose)?.name ?? own;

  for (const index of writeOrder(plan)) {
    const node = plan.nodes[index];
    const conv = foldedInto.get(index);
    if (conv !== undefined) {
      values[index] = values[conv];
      channels[index] = channels[conv];
      quantize(index);
      continue;
    }
    const input = "input" in node ? values[node.input] : "";
    channels[index] = "input" in node ? channels[node.input] : 0;
    switch (node.op) {
      case "input":
        channels[index] = node.channels;
        values[index] = layout === "nchw"
          ? "input"
          : graph.node("Transpose", ["input"], name(index, "input_nchw"), [
            ints("perm", [0, 3, 1, 2]),
          ]);
        break;
      case "conv":
        values[index] = writeConv(
          graph,
          node,
          bnAfter.get(index) ?? null,
          weights,
          input,
          name(index, node.name),
          int8Input(node.input),
        );
        channels[index] = node.outChannels;
        break;
      case "bn":
        values[index] = writeBatchNorm(graph, node, weights, input, name(index, node.name));
        break;
      case "gn":
        values[index] = writeGroupNorm(graph, node, weights, input, name(index, node.name));
        break;
      case "relu":
        values[index] = graph.node("Relu", [input], name(index, `${input}/relu`));
        break;
      case "maxpool": {
        const attributes = [
          ints("kernel_shape", [node.size, node.size]),
          ints("strides", [node.stride, node.stride]),
        ];
        const out = name(index, `${input}/maxpool`);
        if (node.padding === "same") {
          // TF 'same' puts the odd padding at the end and ignores padded cells, as SAME_UPPER does.
          values[index] = graph.node("MaxPool", [input], out, [
            ...attributes,
            text("auto_pad", "SAME_UPPER"),
          ]);
        } else if (plan.nodes[node.input].op === "relu") {
          // After a ReLU no value is below zero, so Keras' zero padding equals MaxPool's own.
          values[index] = graph.node("MaxPool", [input], out, [
            ...attributes,
            ints("pads", [1, 1, 1, 1]),
          ]);
        } else {
          const pads = graph.int64("pads_spatial_1", [0n, 0n, 1n, 1n, 0n, 0n, 1n, 1n]);
          const padded = graph.node("Pad", [input, pads], `${input}/zero_pad`);
          // onnxruntime's Pad fusion (level "basic") moves a zero Pad into MaxPool's `pads`, which
          // pad with -inf: wrong where a border window is all negative (Keras V2's raw stem
          // output). It leaves pools with an explicit auto_pad alone.
          values[index] = graph.node("MaxPool", [padded], out, [
            ...attributes,
            text("auto_pad", "VALID"),
          ]);
        }
        break;
      }
      case "avgpool":
        // As torch exports AvgPool2d(ceil_mode=True, count_include_pad=False).
        values[index] = graph.node("AveragePool", [input], name(index, `${input}/avgpool`), [
          ints("kernel_shape", [node.size, node.size]),
          ints("strides", [node.stride, node.stride]),
          int("ceil_mode", 1),
          int("count_include_pad", 0),
        ]);
        break;
      case "sigmoid":
        values[index] = graph.node("Sigmoid", [input], name(index, `${input}/sigmoid`));
        break;
      case "mul": {
        const [a, b] = node.inputs.map((i) => values[i]);
        values[index] = graph.node("Mul", [a, b], name(index, `mul_${index}`));
        channels[index] = channels[node.inputs[0]];
        break;
      }
      case "channelConv": {
        // [N, C, 1, 1] as N one-channel sequences of length C, a 1-D Conv, and back.
        const p = (node.kernel - 1) / 2;
        const sequence = graph.node(
          "Reshape",
          [input, graph.int64("shape_sequence", [0n, 1n, -1n])],
          `${node.name}/sequence`,
        );
        const kernel = weights.get(`${node.name}/kernel`)!;
        const convolved = graph.node(
          "Conv",
          [sequence, graph.float(`${node.name}.weight`, [1, 1, node.kernel], kernel.data)],
          `${node.name}/conv`,
          [
            ints("kernel_shape", [node.kernel]),
            ints("strides", [1]),
            ints("pads", [p, p]),
            ints("dilations", [1]),
            int("group", 1),
          ],
        );
        values[index] = graph.node(
          "Reshape",
          [convolved, graph.int64("shape_channels", [0n, -1n, 1n, 1n])],
          name(index, node.name),
        );
        break;
      }
      case "subsample": {
        if (node.mode === "avgpool") {
          values[index] = graph.node("AveragePool", [input], name(index, `${input}/subsample`), [
            ints("kernel_shape", [node.stride, node.stride]),
            ints("strides", [node.stride, node.stride]),
          ]);
          break;
        }
        const s = BigInt(node.stride);
        const slice = [
          graph.int64("slice_starts", [0n, 0n]),
          graph.int64("slice_ends", [INT64_MAX, INT64_MAX]),
          graph.int64("slice_axes", [2n, 3n]),
          graph.int64(`slice_steps_${s}`, [s, s]),
        ];
        values[index] = graph.node("Slice", [input, ...slice], name(index, `${input}/subsample`));
        break;
      }
      case "padChannels": {
        const [before, after] = [BigInt(node.before), BigInt(node.after)];
        const padsName = `pads_channels_${before}_${after}`;
        const pads = graph.int64(padsName, [0n, before, 0n, 0n, 0n, after, 0n, 0n]);
        values[index] = graph.node("Pad", [input, pads], name(index, `${input}/pad_channels`));
        channels[index] += node.before + node.after;
        break;
      }
      case "add": {
        const [a, b] = node.inputs.map((i) => values[i]);
        values[index] = graph.node("Add", [a, b], name(index, `add_${index}`));
        channels[index] = channels[node.inputs[0]];
        break;
      }
      case "globalPool": {
        const op = node.kind === "avg" ? "GlobalAveragePool" : "GlobalMaxPool";
        if (node.keepDims) {
          values[index] = graph.node(op, [input], name(index, `${input}/squeeze`));
          break;
        }
        const pooled = graph.node(op, [input], `${input}/${node.kind}_pool`);
        values[index] = graph.node("Flatten", [pooled], name(index, `${pooled}/flatten`), [
          int("axis", 1),
        ]);
        break;
      }
      case "dense":
        values[index] = writeDense(
          graph,
          node,
          weights,
          input,
          name(index, node.name),
          int8Input(node.input),
        );
        channels[index] = node.outFeatures;
        break;
    }
    quantize(index);
  }

  /** In an int8 graph, the QuantizeLinear → DequantizeLinear pair after a quantized value. */
  function quantize(index: number): void {
    if (qdq?.quantizes(index)) values[index] = qdq.activation(graph, values[index], index);
  }
  for (const index of tapped) graph.node("Identity", [values[index]], `node_${index}`);
  for (const result of results.filter((r) => r.exitTranspose)) {
    graph.node("Transpose", [values[result.writer]], result.name, [ints("perm", [0, 2, 3, 1])]);
  }

  const inputDims = layout === "nchw" ? [batchDim, 3, "H", "W"] : [batchDim, "H", "W", 3];
  const outputs = results.map(({ index, name, spatial }, k) => {
    const c = channels[index];
    const [h, w] = results.length > 1 ? [`h${k}`, `w${k}`] : ["out_height", "out_width"];
    const dims = !spatial
      ? [batchDim, c]
      : layout === "nchw"
      ? [batchDim, c, h, w]
      : [batchDim, h, w, c];
    return tensorType(name, dims);
  });
  const model: OnnxTypes.IModelProto = {
    irVersion: irVersionFor(opset),
    opsetImport: [{ domain: "", version: opset }],
    producerName: "denozoo",
    producerVersion: CONVERTER_VERSION,
    metadataProps,
    graph: {
      name: "resnet",
      node: graph.nodes,
      initializer: graph.initializers,
      input: [tensorType("input", inputDims)],
      output: [
        ...outputs,
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

/**
 * `metadata_props` with the preprocessing and class names the options give, under the zoo
 * file's keys, so that a model keeps them as an ONNX file: what the classifier outputs, and how.
 */
function usageProps(plan: Plan, options: OnnxExportOptions): OnnxTypes.IStringStringEntryProto[] {
  const head = planOutputs(plan).map((index) => plan.nodes[index]);
  const classifier = head.length === 1 && head[0].op === "dense" ? head[0] : undefined;
  if (options.labels !== undefined && !classifier) {
    throw new RangeError("class names need a model with a classifier; this one outputs features");
  }
  const metadata = usageMetadata(options, classifier?.outFeatures ?? 0, "the exported model");
  return Object.entries(metadata).map(([key, value]) => ({ key, value }));
}

/** A Gemm node of `[in, out]` weights; in an int8 graph, per-output int8 kernel and int32 bias. */
function writeDense(
  graph: GraphBuilder,
  node: DenseNode,
  weights: WeightMap,
  input: string,
  output: string,
  qdq?: { writer: QdqWriter; inputScale: number },
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
