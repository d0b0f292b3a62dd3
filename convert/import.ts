/**
 * Imports pretrained ResNet weights from any supported file into a zoo spec and weight
 * map: the format is recognised by its bytes, read by its one reader, turned into
 * {@link SourceLayer}s (layout changes in `layout.ts`), and matched by structure.
 *
 * @example
 * ```ts
 * import { importFile } from "./import.ts";
 * const imported = await importFile("testdata/cifar10-resnet/resnet20-12fca82f.th");
 * console.log(imported.spec.name, imported.format); // cifar_resnet20 pytorch-legacy
 * ```
 *
 * @module
 */

import type { ResNetSpec } from "../arch/spec.ts";
import type { Weight, WeightMap } from "../arch/weights.ts";
import { linearToDense, oihwToHwio, oiwToWio, toWeight } from "./layout.ts";
import { type OnnxModel, readOnnx } from "../formats/onnx.ts";
import { readKeras } from "../formats/keras/read.ts";
import { readShards } from "../formats/keras/tfjs.ts";
import { readPytorch } from "../formats/pytorch.ts";
import { readWholeFile } from "../formats/files.ts";
import { readZooWeights } from "./zoofile.ts";
import { inferResNet, KERAS_DEFAULTS, PYTORCH_DEFAULTS, type SourceLayer } from "./structure.ts";
import type { NamedTensor } from "../formats/tensor.ts";
import { ZooFormatError } from "../arch/errors.ts";
import { detectFormat, type SourceFormat } from "../formats/detect.ts";

/**
 * A recognised architecture with its weights.
 *
 * @example
 * ```ts
 * import { type ImportedModel, importFile } from "./import.ts";
 * const imported: ImportedModel = await importFile("testdata/fixtures/nets/tv_bottleneck.pth");
 * console.log(imported.format, imported.spec.block); // pytorch-zip bottleneck
 * console.log(imported.assumptions.length); // 1: a state dict records no strides
 * ```
 */
export interface ImportedModel {
  /** The matched preset (or a custom spec). */
  spec: ResNetSpec;
  /** Weights in the zoo layout. */
  weights: WeightMap;
  /** What the file was. */
  format: SourceFormat;
  /** What the file could not tell and a convention supplied (see `InferredResNet`). */
  assumptions: string[];
}

/**
 * Options of the importers.
 *
 * @example
 * ```ts
 * import { getSpec } from "../arch/presets.ts";
 * import { importFile, type ImportOptions } from "./import.ts";
 * const options: ImportOptions = { arch: getSpec("cifar_resnet20") };
 * const { spec } = await importFile("testdata/cifar10-resnet/resnet20-12fca82f.th", options);
 * console.log(spec.name); // cifar_resnet20
 * ```
 */
export interface ImportOptions {
  /** Force an architecture instead of inferring it. */
  arch?: ResNetSpec;
}

/**
 * PyTorch state_dict tensors → source layers. Tensors are grouped into modules by their
 * common prefix (`layer1.0.conv1.weight` → module `layer1.0.conv1`); what a module is
 * follows from its tensors' ranks, not its name.
 */
function pytorchLayers(tensors: NamedTensor[], file: string): SourceLayer[] {
  const modules = new Map<string, Map<string, NamedTensor>>();
  for (const t of tensors) {
    const dot = t.name.lastIndexOf(".");
    const module = t.name.slice(0, dot);
    if (!modules.has(module)) modules.set(module, new Map());
    modules.get(module)!.set(t.name.slice(dot + 1), t);
  }
  const layers: SourceLayer[] = [];
  for (const [name, params] of modules) {
    const get = (p: string) => params.has(p) ? toWeight(params.get(p)!, file) : undefined;
    const weight = get("weight");
    if (params.has("running_mean")) {
      layers.push({
        kind: "bn",
        name,
        weights: {
          gamma: weight,
          beta: get("bias"),
          moving_mean: get("running_mean"),
          moving_variance: get("running_var"),
        },
      });
    } else if (weight?.shape.length === 1 && params.has("bias")) {
      // A norm with a scale and shift but no moving statistics: a GroupNorm, whose group count
      // a state dict does not record.
      layers.push({ kind: "gn", name, weights: { gamma: weight, beta: get("bias") } });
    } else if (weight?.shape.length === 4) {
      layers.push({
        kind: "conv",
        name,
        weights: { kernel: oihwToHwio(weight), bias: get("bias") },
      });
    } else if (weight?.shape.length === 3) {
      layers.push({
        kind: "conv1d",
        name,
        weights: { kernel: oiwToWio(weight), bias: get("bias") },
      });
    } else if (weight?.shape.length === 2) {
      layers.push({
        kind: "dense",
        name,
        weights: { kernel: linearToDense(weight), bias: get("bias") },
      });
    } else {
      throw new ZooFormatError(
        file,
        `module '${name}' is neither a conv, a BatchNorm nor a linear layer`,
      );
    }
  }
  return layers;
}

/**
 * A GroupNorm as torch.onnx writes it (before opset 18): Reshape to [N, groups, rest],
 * InstanceNormalization with unit scale and zero bias, Reshape back, Mul by gamma, Add beta.
 * The InstanceNormalization node stands for it; its scale's length is the group count.
 */
function groupNormLayer(
  node: OnnxModel["graph"]["nodes"][number],
  graph: OnnxModel["graph"],
  label: string,
  constant: (name: string | undefined, node: string) => Weight | undefined,
  file: string,
): SourceLayer {
  const consumer = (value: string, op: string) =>
    graph.nodes.find((n) => n.opType === op && n.inputs.includes(value));
  const [scale, shift] = [node.inputs[1], node.inputs[2]].map((i) => constant(i, label)!.data);
  const reshaped = consumer(node.outputs[0], "Reshape");
  const mul = reshaped && consumer(reshaped.outputs[0], "Mul");
  const add = mul && consumer(mul.outputs[0], "Add");
  if (!add || scale.some((v) => v !== 1) || shift.some((v) => v !== 0)) {
    throw new ZooFormatError(
      file,
      `node '${label}': an InstanceNormalization that is not a GroupNorm (Reshape, Mul, Add after it)`,
    );
  }
  const other = (n: typeof mul, value: string) => n.inputs.find((i) => i !== value);
  const vector = (name: string | undefined) => {
    const w = constant(name, label)!;
    return { shape: [w.shape[0]], data: w.data };
  };
  return {
    kind: "gn",
    name: label,
    weights: {
      gamma: vector(other(mul, reshaped.outputs[0])),
      beta: vector(other(add, mul.outputs[0])),
    },
    groups: scale.length,
    epsilon: typeof node.attributes.epsilon === "number" ? node.attributes.epsilon : 1e-5,
  };
}

/** ONNX graph → source layers in node order, plus whether a ReLU follows the residual adds. */
function onnxLayers(model: OnnxModel, file: string): { layers: SourceLayer[]; preact: boolean } {
  const { graph } = model;
  const constants = new Map<string, NamedTensor>(graph.initializers);
  const producers = new Map(graph.nodes.flatMap((n) => n.outputs.map((o) => [o, n] as const)));
  for (const node of graph.nodes) {
    if (node.opType === "Constant" && node.attributes.value) {
      constants.set(node.outputs[0], node.attributes.value as NamedTensor);
    }
  }
  /** The constant tensor feeding a node, through Identity nodes. */
  const tensor = (name: string, node: string): NamedTensor => {
    let source = name;
    for (let p = producers.get(source); p?.opType === "Identity"; p = producers.get(source)) {
      source = p.inputs[0];
    }
    const t = constants.get(source);
    if (!t) {
      throw new ZooFormatError(file, `node '${node}': input '${name}' is not a constant weight`);
    }
    return t;
  };
  const constant = (name: string | undefined, node: string): Weight | undefined =>
    name ? toWeight(tensor(name, node), file) : undefined;
  /**
   * A conv weight computed from a constant by weight standardisation, as torch.onnx writes
   * BiT's StdConv2d: Div(Sub(W, ReduceMean(W)), Sqrt(Add(ReduceMean((W − mean)²), ε))). Gives
   * W and ε; null for any other producer.
   */
  const standardized = (name: string): { weight: string; epsilon: number } | null => {
    const div = producers.get(name);
    const sub = div?.opType === "Div" ? producers.get(div.inputs[0]) : undefined;
    const sqrt = div ? producers.get(div.inputs[1]) : undefined;
    const add = sqrt?.opType === "Sqrt" ? producers.get(sqrt.inputs[0]) : undefined;
    const mean = sub?.opType === "Sub" ? producers.get(sub.inputs[1]) : undefined;
    if (
      add?.opType !== "Add" || mean?.opType !== "ReduceMean" || mean.inputs[0] !== sub!.inputs[0]
    ) {
      return null;
    }
    const epsilon = add.inputs.map((i) => constants.get(i)).find((t) => t?.shape.length === 0);
    if (!epsilon || !constants.has(sub!.inputs[0])) return null;
    return { weight: sub!.inputs[0], epsilon: (epsilon.data as Float32Array)[0] };
  };
  const int = (v: unknown, fallback: number) => (typeof v === "number" ? v : fallback);
  const layers: SourceLayer[] = [];
  for (const node of graph.nodes) {
    const a = node.attributes;
    const label = node.name || node.outputs[0];
    if (node.opType === "Conv") {
      const strides = (a.strides as number[] | undefined) ?? [1, 1];
      const standardization = standardized(node.inputs[1]);
      const weight = tensor(standardization?.weight ?? node.inputs[1], label);
      if (weight.shape.length === 3) {
        layers.push({
          kind: "conv1d",
          name: label,
          weights: { kernel: oiwToWio(weight), bias: constant(node.inputs[2], label) },
          stride: strides[0],
          groups: int(a.group, 1),
        });
        continue;
      }
      layers.push({
        kind: "conv",
        name: label,
        weights: {
          // Transposed from the file's bytes: a kernel is never decoded in OIHW order first.
          kernel: oihwToHwio(weight),
          bias: constant(node.inputs[2], label),
        },
        stride: strides[0],
        groups: int(a.group, 1),
        standardize: standardization?.epsilon ?? 0,
      });
    } else if (node.opType === "BatchNormalization") {
      const [gamma, beta, mean, variance] = node.inputs.slice(1, 5).map((i) => constant(i, label));
      layers.push({
        kind: "bn",
        name: label,
        weights: { gamma, beta, moving_mean: mean, moving_variance: variance },
        epsilon: typeof a.epsilon === "number" ? a.epsilon : 1e-5,
      });
    } else if (node.opType === "InstanceNormalization") {
      layers.push(groupNormLayer(node, graph, label, constant, file));
    } else if (node.opType === "Gemm") {
      const weight = tensor(node.inputs[1], label);
      if (int(a.transA, 0) !== 0) {
        throw new ZooFormatError(file, `node '${label}': Gemm with transA=1 is not a classifier`);
      }
      layers.push({
        kind: "dense",
        name: label,
        weights: {
          kernel: int(a.transB, 0) === 1 ? linearToDense(weight) : toWeight(weight, file),
          bias: constant(node.inputs[2], label),
        },
      });
    } else if (node.opType === "MatMul" && graph.initializers.has(node.inputs[1])) {
      const add = graph.nodes.find((n) => n.opType === "Add" && n.inputs.includes(node.outputs[0]));
      const biasName = add?.inputs.find((i) => i !== node.outputs[0]);
      layers.push({
        kind: "dense",
        name: label,
        weights: { kernel: constant(node.inputs[1], label)!, bias: constant(biasName, label) },
      });
    }
  }
  // Residual adds sum two computed values; an Add of a constant is a bias (a GroupNorm's beta).
  const addOutputs = new Set(
    graph.nodes.filter((n) => n.opType === "Add" && !n.inputs.some((i) => constants.has(i)))
      .map((n) => n.outputs[0]),
  );
  const reluAfterAdd = graph.nodes.some((n) => n.opType === "Relu" && addOutputs.has(n.inputs[0]));
  return { layers, preact: !reluAfterAdd };
}

interface KerasLayerConfig {
  class_name: string;
  config: { name: string; strides?: number[]; activation?: string };
  inbound_nodes?: unknown;
}

/** Names of the layers feeding a Keras layer, from a Keras 2 or Keras 3 config. */
function kerasInbound(layer: KerasLayerConfig): string[] {
  const names: string[] = [];
  const visit = (value: unknown): void => {
    if (Array.isArray(value)) {
      if (typeof value[0] === "string" && typeof value[1] === "number") names.push(value[0]);
      else value.forEach(visit);
    } else if (value && typeof value === "object") {
      const history = (value as { config?: { keras_history?: unknown[] } }).config?.keras_history;
      if (history && typeof history[0] === "string") names.push(history[0]);
      else Object.values(value).forEach(visit);
    }
  };
  visit(layer.inbound_nodes);
  return names;
}

/** What a Keras model config tells about structure: conv strides, and whether a ReLU follows the adds. */
function kerasHints(config: Record<string, unknown> | undefined) {
  const layers = ((config?.config as { layers?: KerasLayerConfig[] })?.layers) ?? [];
  const strides = new Map<string, number>();
  for (const l of layers) if (l.config.strides) strides.set(l.config.name, l.config.strides[0]);
  const adds = new Set(layers.filter((l) => l.class_name === "Add").map((l) => l.config.name));
  const isRelu = (l: KerasLayerConfig) =>
    l.class_name === "ReLU" || (l.class_name === "Activation" && l.config.activation === "relu");
  const preact = adds.size === 0
    ? undefined
    : !layers.some((l) => isRelu(l) && kerasInbound(l).some((n) => adds.has(n)));
  return { strides, preact };
}

/** Keras layers (weights in their own order) → source layers; kernels are already HWIO. */
function kerasLayers(
  layers: { name: string; weights: NamedTensor[] }[],
  strides: Map<string, number>,
  file: string,
): SourceLayer[] {
  return layers.map(({ name, weights }) => {
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
 * Imports a weights file already in memory. Sibling files (ONNX external data, tfjs
 * shards) are read relative to `file`.
 *
 * The ONNX and Keras readers start their libraries on first use (`formats/libraries.ts`):
 * protobuf.js with the ONNX schema and h5wasm's WebAssembly HDF5 take 50 MB of memory that a
 * run on PyTorch or zoo weights never needs.
 *
 * @example
 * ```ts
 * const path = "testdata/fixtures/nets/tv_bottleneck.onnx";
 * const { spec, weights } = await importBytes(await Deno.readFile(path), path);
 * console.log(spec.depths, weights.get("fc/kernel")?.shape); // [ 1, 2, 1, 1 ] [ 64, 10 ]
 * ```
 */
export async function importBytes(
  bytes: Uint8Array,
  file: string,
  options: ImportOptions = {},
): Promise<ImportedModel> {
  const format = detectFormat(bytes, file);
  const arch = options.arch;
  switch (format) {
    case "pytorch-zip":
    case "pytorch-legacy": {
      const { tensors } = readPytorch(bytes, file);
      const layers = pytorchLayers(
        tensors.filter((t) => !t.name.endsWith("num_batches_tracked")),
        file,
      );
      return { ...inferResNet(layers, { file, defaults: PYTORCH_DEFAULTS, arch }), format };
    }
    case "onnx": {
      const { layers, preact } = onnxLayers(await readOnnx(bytes, file), file);
      return { ...inferResNet(layers, { file, defaults: PYTORCH_DEFAULTS, preact, arch }), format };
    }
    case "keras-h5":
    case "keras3":
    case "tfjs-layers": {
      const keras = await readKeras(bytes, file, {
        shards: format === "tfjs-layers" ? readShards(bytes, file) : undefined,
      });
      const { strides, preact } = kerasHints(keras.modelConfig);
      const layers = kerasLayers(keras.layers, strides, file);
      return { ...inferResNet(layers, { file, defaults: KERAS_DEFAULTS, preact, arch }), format };
    }
    case "zoo-safetensors":
      return { ...readZooWeights(bytes, file), format, assumptions: [] };
  }
}

/**
 * Reads and imports a weights file from disk.
 *
 * @example
 * ```ts
 * const { spec } = await importFile("testdata/fixtures/nets/tv_basic.onnx");
 * console.log(spec.block); // "basic"
 * ```
 */
export async function importFile(
  path: string,
  options: ImportOptions = {},
): Promise<ImportedModel> {
  return await importBytes(await readWholeFile(path), path, options);
}
