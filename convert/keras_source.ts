/**
 * A Keras file as the structure matcher reads it: the layers that own weights as
 * {@link SourceLayer}s (Keras kernels are already HWIO), and, where the file has a model config
 * (a full-model HDF5, a `.keras` archive, a tfjs `model.json`), every layer of the config as an
 * operation of a {@link SourceGraph}, so that a matched spec is checked against all of it. A
 * weights-only file has no graph.
 *
 * @example
 * ```ts
 * import { readKeras } from "../formats/keras/read.ts";
 * import { kerasSource } from "./keras_source.ts";
 * const path = "testdata/fixtures/more/keras_v1.keras";
 * const { layers, graph } = kerasSource(await readKeras(await Deno.readFile(path), path), path);
 * console.log(layers[0].name, layers[0].pads, graph?.ops.length); // conv1_conv [ 0, 0, 0, 0 ] 67
 * ```
 *
 * @module
 */

import type { KerasFile } from "../formats/keras/types.ts";
import { configLayers, isObject, type JsonObject } from "../formats/keras/config.ts";
import { ZooFormatError } from "../arch/errors.ts";
import type { SourceLayer } from "./align.ts";
import { toWeight } from "./layout.ts";
import type { GraphOp, Pads, SourceGraph } from "./source_graph.ts";

/** What a Keras file tells the structure matcher. */
export interface KerasSource {
  /** The layers that own weights, in the file's order. */
  layers: SourceLayer[];
  /** Every layer of the model config; absent for a weights-only file. */
  graph?: SourceGraph;
  /** No ReLU follows a residual add (a pre-activation network), when the config tells. */
  preact?: boolean;
}

/** The names of the layers each call of a layer reads (Keras 2 node lists or Keras 3 `args`). */
function inboundCalls(entry: JsonObject): string[][] {
  const nodes = Array.isArray(entry.inbound_nodes) ? entry.inbound_nodes : [];
  return nodes.map((node) => {
    const names: string[] = [];
    const visit = (value: unknown): void => {
      if (Array.isArray(value)) {
        if (typeof value[0] === "string" && typeof value[1] === "number") names.push(value[0]);
        else value.forEach(visit);
      } else if (isObject(value)) {
        const history = isObject(value.config) ? value.config.keras_history : undefined;
        if (Array.isArray(history) && typeof history[0] === "string") names.push(history[0]);
        else Object.values(value).forEach(visit);
      }
    };
    visit(node);
    return names;
  });
}

const pair = (value: unknown, fallback: number): [number, number] =>
  typeof value === "number"
    ? [value, value]
    : Array.isArray(value) && typeof value[0] === "number"
    ? [value[0], value[1] ?? value[0]]
    : [fallback, fallback];

/** Keras padding of a kernel: 'valid' pads nothing, 'same' what TF computes (see `paddingOf` in onnx_source.ts). */
function kerasPadding(padding: unknown, kernel: number, stride: number): Pads | "same" {
  if (padding !== "same" || kernel <= stride) return [0, 0, 0, 0];
  if (stride === 1 && kernel % 2 === 1) {
    const p = (kernel - 1) / 2;
    return [p, p, p, p];
  }
  return "same";
}

/** ZeroPadding2D's `padding`: an int, a pair, or `[[top, bottom], [left, right]]`. */
function zeroPadding(padding: unknown): Pads | undefined {
  if (typeof padding === "number") return [padding, padding, padding, padding];
  if (!Array.isArray(padding) || padding.length !== 2) return undefined;
  const [h, w] = padding.map((p) => pair(p, -1));
  return h[0] < 0 || w[0] < 0 ? undefined : [h[0], w[0], h[1], w[1]];
}

/** The layers that own weights → source layers, by their weight count and rank. */
function weightedLayers(
  keras: KerasFile,
  strides: Map<string, number>,
  file: string,
): SourceLayer[] {
  return keras.layers.map(({ name, weights }) => {
    const w = weights.map((t) => toWeight(t, file));
    const rank = w[0]?.shape.length;
    // Keras Conv1D kernels are already [taps, in, out].
    if (rank === 3) return { kind: "conv1d", name, weights: { kernel: w[0], bias: w[1] } };
    if (rank === 4) {
      return {
        kind: "conv",
        name,
        weights: { kernel: w[0], bias: w[1] },
        stride: strides.get(name),
      };
    }
    if (rank === 2) return { kind: "dense", name, weights: { kernel: w[0], bias: w[1] } };
    if (w.length === 4) {
      return {
        kind: "bn",
        name,
        weights: { gamma: w[0], beta: w[1], moving_mean: w[2], moving_variance: w[3] },
      };
    }
    if (w.length === 2) {
      return { kind: "bn", name, weights: { moving_mean: w[0], moving_variance: w[1] } };
    }
    throw new ZooFormatError(
      file,
      `layer '${name}' with ${w.length} weights is not a conv, BatchNorm or dense layer`,
    );
  });
}

/**
 * Reads a Keras file's layers, and its model config as a graph when it has one.
 *
 * @throws {ZooFormatError} for a layer whose weights are no conv, BatchNorm or dense layer.
 */
export function kerasSource(keras: KerasFile, file: string): KerasSource {
  const entries = keras.modelConfig ? configLayers(keras.modelConfig) : undefined;
  const configOf = (entry: JsonObject) => (isObject(entry.config) ? entry.config : {});
  const nameOf = (entry: JsonObject) => String(entry.name ?? configOf(entry).name);
  const strides = new Map<string, number>();
  for (const entry of entries ?? []) {
    const stride = configOf(entry).strides;
    if (stride !== undefined) strides.set(nameOf(entry), pair(stride, 1)[0]);
  }
  const layers = weightedLayers(keras, strides, file);
  if (!entries || !keras.modelConfig) return { layers };

  const byName = new Map(layers.map((l) => [l.name, l]));
  const ops: GraphOp[] = [];
  const opOf = new Map<string, number>();
  const sequential = keras.modelConfig.class_name === "Sequential";
  let previous = -1;
  if (sequential && entries[0]?.class_name !== "InputLayer") {
    // An old Sequential config declares its input on the first layer.
    previous = ops.push({ op: "input", name: "input", layout: "nhwc" }) - 1;
  }
  for (const entry of entries) {
    const name = nameOf(entry);
    const config = configOf(entry);
    const className = String(entry.class_name);
    const calls = inboundCalls(entry);
    const reads = sequential
      ? (previous >= 0 ? [previous] : [])
      : calls.length === 1
      ? calls[0].map((n) => opOf.get(n) ?? -1)
      : [];
    const input = reads[0] ?? -1;
    const push = (op: GraphOp) => {
      const index = ops.push(op) - 1;
      opOf.set(name, index);
      previous = index;
      return index;
    };
    /** A layer's own activation, as an operation after it. */
    const activate = (activation: unknown) => {
      if (activation === undefined || activation === "linear") return;
      const index = previous;
      if (activation === "relu") push({ op: "relu", name: `${name} (relu)`, input: index });
      else push({ op: "other", name, inputs: [index], what: `activation '${String(activation)}'` });
    };
    const channelsFirst = config.data_format === "channels_first";
    const shared = !sequential && calls.length !== 1 && className !== "InputLayer";
    const layer = byName.get(name);
    if (shared || channelsFirst) {
      push({
        op: "other",
        name,
        inputs: reads,
        what: shared
          ? `${className} called ${calls.length} times`
          : `${className} (channels_first)`,
      });
      continue;
    }
    switch (className) {
      case "InputLayer":
        push({ op: "input", name, layout: "nhwc" });
        break;
      case "Conv2D": {
        const [kh] = pair(config.kernel_size, 1);
        const [sh, sw] = pair(config.strides, 1);
        if (!layer) throw new ZooFormatError(file, `conv layer '${name}' has no weights`);
        layer.pads = kerasPadding(config.padding, kh, sh);
        layer.dilation = pair(config.dilation_rate, 1);
        layer.groups = typeof config.groups === "number" ? config.groups : 1;
        if (sh !== sw) layer.unsupported = `a stride of ${sh}×${sw}`;
        push({ op: "layer", name, layer, input });
        activate(config.activation);
        break;
      }
      case "Dense":
        if (!layer) throw new ZooFormatError(file, `dense layer '${name}' has no weights`);
        push({ op: "layer", name, layer, input });
        activate(config.activation);
        break;
      case "BatchNormalization": {
        if (!layer) throw new ZooFormatError(file, `BatchNorm '${name}' has no weights`);
        const axis = Array.isArray(config.axis) ? config.axis[0] : config.axis;
        if (typeof config.epsilon === "number") layer.epsilon = config.epsilon;
        if (axis !== -1 && axis !== 3) layer.unsupported = `axis ${JSON.stringify(config.axis)}`;
        push({ op: "layer", name, layer, input });
        break;
      }
      case "Activation":
        if (config.activation === "linear") push({ op: "identity", name, input });
        else if (config.activation === "relu") push({ op: "relu", name, input });
        else {push({
            op: "other",
            name,
            inputs: reads,
            what: `activation '${String(config.activation)}'`,
          });}
        break;
      case "ReLU": {
        const plain = (config.max_value ?? null) === null && !config.negative_slope &&
          !config.threshold;
        push(
          plain
            ? { op: "relu", name, input }
            : { op: "other", name, inputs: reads, what: "ReLU with a cap, slope or threshold" },
        );
        break;
      }
      case "Add":
        push({ op: "add", name, inputs: reads });
        break;
      case "ZeroPadding2D": {
        const pads = zeroPadding(config.padding);
        push(
          pads
            ? { op: "zeroPad", name, input, pads }
            : { op: "other", name, inputs: reads, what: className },
        );
        break;
      }
      case "MaxPooling2D":
      case "AveragePooling2D": {
        const [kernel, kw] = pair(config.pool_size, 2);
        const [stride, swidth] = config.strides == null ? [kernel, kw] : pair(config.strides, 1);
        if (kernel !== kw || stride !== swidth) {
          push({
            op: "other",
            name,
            inputs: reads,
            what: `${className} ${kernel}×${kw}/${stride}×${swidth}`,
          });
          break;
        }
        const kind = className === "MaxPooling2D" ? "max" : "avg";
        const pads = config.padding === "same" ? "same" : [0, 0, 0, 0] as const;
        push({ op: "pool", name, kind, input, kernel, stride, pads, ceil: false });
        break;
      }
      case "GlobalAveragePooling2D":
      case "GlobalMaxPooling2D":
        if (config.keepdims) {
          push({ op: "other", name, inputs: reads, what: `${className} (keepdims)` });
        } else {push({
            op: "globalPool",
            name,
            kind: className === "GlobalMaxPooling2D" ? "max" : "avg",
            input,
          });}
        break;
      case "Flatten":
        push({ op: "flatten", name, input });
        break;
      case "Dropout":
      case "SpatialDropout2D":
      case "GaussianNoise":
      case "GaussianDropout":
      case "ActivityRegularization":
        push({ op: "identity", name, input });
        break;
      default:
        push({ op: "other", name, inputs: reads, what: className });
    }
  }
  const model = configOf(keras.modelConfig);
  const outputs = Array.isArray(model.output_layers)
    ? (typeof model.output_layers[0] === "string" ? [model.output_layers] : model.output_layers)
    : [];
  const output = sequential ? previous : opOf.get(String((outputs[0] as unknown[])?.[0])) ?? -1;
  const adds = new Set(ops.flatMap((op, i) => (op.op === "add" ? [i] : [])));
  const preact = adds.size === 0
    ? undefined
    : !ops.some((op) => op.op === "relu" && adds.has(op.input));
  return { layers, graph: { ops, output, outputs: sequential ? 1 : outputs.length }, preact };
}
