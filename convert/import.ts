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
import type { WeightMap } from "../arch/weights.ts";
import { linearToDense, oihwToHwio, oiwToWio, toWeight } from "./layout.ts";
import { readOnnx } from "../formats/onnx.ts";
import { readKeras } from "../formats/keras/read.ts";
import { readShards } from "../formats/keras/tfjs.ts";
import { readPytorch } from "../formats/pytorch.ts";
import { describeStateDict } from "../formats/pytorch_wrappers.ts";
import { readWholeFile } from "../formats/files.ts";
import { readZooWeights } from "./zoofile.ts";
import {
  type InferOptions,
  inferResNet,
  KERAS_DEFAULTS,
  PYTORCH_DEFAULTS,
  type ShortcutChoice,
  type SourceLayer,
} from "./structure.ts";
import { onnxSource } from "./onnx_source.ts";
import { type ModelUsage, onnxUsage } from "./usage_metadata.ts";
import { kerasSource } from "./keras_source.ts";
import type { NamedTensor } from "../formats/tensor.ts";
import { NotZooResNetError, ZooFormatError } from "../arch/errors.ts";
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
  /**
   * How the file was read, where a user would want to know: which entry of a wrapped
   * checkpoint held the weights, and what else it holds. Empty when there is nothing to say.
   */
  notes?: string[];
  /**
   * How the file's graph takes its input, when it records one: NCHW (PyTorch exports) or NHWC
   * (an ONNX graph transposed at its entry, a Keras model). Absent for weights-only files.
   */
  sourceLayout?: "nchw" | "nhwc";
  /**
   * How the file says to use the model, when it records it: the preprocessing and class names
   * in an ONNX export's `metadata_props` (see `usage_metadata.ts`).
   */
  usage?: ModelUsage;
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
  /** The option-A shortcut variant, where a weights-only file cannot tell (`--shortcut`). */
  shortcut?: ShortcutChoice;
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
    const module = dot < 0 ? t.name : t.name.slice(0, dot);
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
  const infer = { file, arch: options.arch, shortcut: options.shortcut };
  switch (format) {
    case "pytorch-zip":
    case "pytorch-legacy": {
      const { tensors, stateDict } = readPytorch(bytes, file);
      const layers = pytorchLayers(
        tensors.filter((t) => !t.name.endsWith("num_batches_tracked")),
        file,
      );
      const note = describeStateDict({ ...stateDict, entries: [] });
      return {
        ...weightsOnly(layers, { ...infer, defaults: PYTORCH_DEFAULTS }, WEIGHTS_ONLY.pytorch),
        format,
        notes: note ? [note] : [],
      };
    }
    case "onnx": {
      const onnx = await readOnnx(bytes, file);
      const { layers, graph, preact, assumptions } = onnxSource(onnx, file);
      const imported = inferResNet(layers, { ...infer, defaults: PYTORCH_DEFAULTS, preact, graph });
      return {
        ...imported,
        assumptions: [...imported.assumptions, ...assumptions],
        format,
        sourceLayout: layoutOf(graph.ops),
        usage: onnxUsage(onnx, imported.spec.classes, file),
      };
    }
    case "keras-h5":
    case "keras3":
    case "tfjs-layers": {
      const keras = await readKeras(bytes, file, {
        shards: format === "tfjs-layers" ? readShards(bytes, file) : undefined,
      });
      const { layers, graph, preact } = kerasSource(keras, file);
      const options = { ...infer, defaults: KERAS_DEFAULTS, preact, graph };
      if (!graph) return { ...weightsOnly(layers, options, WEIGHTS_ONLY.keras), format };
      return { ...inferResNet(layers, options), format, sourceLayout: "nhwc" };
    }
    case "zoo-safetensors":
      return { ...readZooWeights(bytes, file), format, assumptions: [] };
  }
}

/** What to do with a weights-only file that is no zoo ResNet, by where it came from. */
const WEIGHTS_ONLY = {
  pytorch: "A PyTorch checkpoint holds weights, not the network that uses them: export the " +
    "network with torch.onnx.export and run the .onnx file, which carries the graph",
  keras: "A weights-only Keras file has no graph to run: save the whole model (model.save) and " +
    "run that file",
};

/**
 * Infers the ResNet in a file that has weights but no graph. Such a file is no network to run
 * when it matches no spec: its refusal says why, and what to do instead.
 */
function weightsOnly(layers: SourceLayer[], options: InferOptions, advice: string) {
  try {
    return inferResNet(layers, options);
  } catch (error) {
    if (!(error instanceof NotZooResNetError) || options.arch) throw error;
    throw new ZooFormatError(
      options.file,
      `${error.message.slice(options.file.length + 2)}. ${advice}`,
    );
  }
}

/** The layout the graph's input declares. */
function layoutOf(ops: { op: string; layout?: "nchw" | "nhwc" }[]): "nchw" | "nhwc" {
  return ops.find((op) => op.op === "input")?.layout ?? "nchw";
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
