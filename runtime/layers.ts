/**
 * Builds a trainable `LayersModel` from a plan: Keras-named layers that can be
 * summarised, fitted and saved in the tfjs layers format.
 *
 * @example
 * ```ts
 * import { getSpec } from "../arch/presets.ts";
 * import { planResNet } from "../arch/plan.ts";
 * import { useBackend } from "./backend.ts";
 * import { buildLayersModel } from "./layers.ts";
 * await useBackend("cpu");
 * const model = buildLayersModel(planResNet(getSpec("cifar_resnet20")), { inputShape: [32, 32] });
 * console.log(model.countParams()); // 271098
 * model.dispose();
 * ```
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs-core";
import * as tfl from "@tensorflow/tfjs-layers";
import type { LayersModel, Tensor } from "./tensor.ts";
import type { Plan } from "../arch/plan.ts";
import type { WeightMap } from "../arch/weights.ts";
import { ZooConv2D } from "./conv.ts";
import { GroupNormalization } from "./group_norm.ts";

/**
 * Input layout of a model: NHWC (`channels_last`) or NCHW (`channels_first`).
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core";
 * import { useBackend } from "./backend.ts";
 * import { createModel } from "./model.ts";
 * import type { DataFormat } from "./layers.ts";
 * await useBackend("wasm");
 * const dataFormat: DataFormat = "channels_first"; // NCHW, as PyTorch feeds images
 * const model = createModel("cifar_resnet20", { dataFormat });
 * console.log(model.predict(tf.zeros([1, 3, 32, 32])).shape); // [ 1, 10 ]
 * ```
 */
export type DataFormat = "channels_last" | "channels_first";

/** Options for {@link buildLayersModel}. */
export interface LayersModelOptions {
  /** Spatial input size `[height, width]`; `null` entries accept any size. */
  inputShape?: [number | null, number | null];
  /** Input layout; weights stay channels_last/HWIO either way. */
  dataFormat?: DataFormat;
  /** Model name. */
  name?: string;
}

interface PadChannelsArgs {
  before: number;
  after: number;
  name?: string;
}

/**
 * Option-A shortcut: zero channels added before and after the existing ones (He et al. 2015 §4.2).
 * tfjs has no Lambda layer, so this small serialisable layer stands in for it.
 */
export class PadChannels extends tfl.layers.Layer {
  /** Registered class name, used by tfjs serialisation. */
  static className = "PadChannels";
  private readonly before: number;
  private readonly after: number;

  /**
   * Creates the layer.
   *
   * @example
   * ```ts
   * const layer = new PadChannels({ before: 4, after: 4 });
   * ```
   */
  constructor(args: PadChannelsArgs) {
    super({ name: args.name });
    this.before = args.before;
    this.after = args.after;
  }

  /** Output shape: channels grow by `before + after`. */
  override computeOutputShape(shape: tfl.Shape | tfl.Shape[]): tfl.Shape {
    const s = [...(shape as tfl.Shape)];
    s[3] = (s[3] as number) + this.before + this.after;
    return s;
  }

  /** Pads the channel axis with zeros. */
  override call(inputs: Tensor | Tensor[]): Tensor {
    const x = Array.isArray(inputs) ? inputs[0] : inputs;
    return tf.pad(x, [[0, 0], [0, 0], [0, 0], [this.before, this.after]]);
  }

  /** Serialised configuration. */
  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), before: this.before, after: this.after };
  }
}
tf.serialization.registerClass(PadChannels);

/**
 * Builds the LayersModel of a plan, with tfjs' default initial weights unless `weights` is given.
 *
 * @example
 * ```ts
 * import { getSpec } from "../arch/presets.ts";
 * import { planResNet } from "../arch/plan.ts";
 * import { useBackend } from "./backend.ts";
 * await useBackend("cpu");
 * const m = buildLayersModel(planResNet(getSpec("resnet18")), { dataFormat: "channels_first" });
 * console.log(m.inputs[0].shape); // [ null, 3, 224, 224 ]
 * m.dispose();
 * ```
 */
export function buildLayersModel(
  plan: Plan,
  options: LayersModelOptions = {},
  weights?: WeightMap,
): LayersModel {
  const [height, width] = options.inputShape ?? [224, 224];
  const channelsFirst = options.dataFormat === "channels_first";
  const input = tfl.input({ shape: channelsFirst ? [3, height, width] : [height, width, 3] });
  const values: tfl.SymbolicTensor[] = [];
  const apply = (layer: tfl.layers.Layer, x: tfl.SymbolicTensor | tfl.SymbolicTensor[]) =>
    layer.apply(x) as tfl.SymbolicTensor;
  const zeroPad = (x: tfl.SymbolicTensor, pad: number, name?: string) =>
    apply(tfl.layers.zeroPadding2d({ padding: pad, name }), x);

  for (const node of plan.nodes) {
    const at = (i: number) => values[i];
    let out: tfl.SymbolicTensor;
    switch (node.op) {
      case "input":
        // Transposed once at the entry; every layer after it works in NHWC.
        out = channelsFirst ? apply(tfl.layers.permute({ dims: [2, 3, 1] }), input) : input;
        break;
      case "conv": {
        if (node.groups !== 1 || node.standardize) {
          out = apply(
            new ZooConv2D({
              name: node.name,
              filters: node.outChannels,
              kernelSize: node.kernel,
              strides: node.stride,
              pad: node.pad,
              groups: node.groups,
              standardize: node.standardize,
              useBias: node.bias,
            }),
            at(node.input),
          );
          break;
        }
        // 'same' equals a symmetric pad only at stride 1 (TF pads bottom/right at stride 2).
        const explicit = node.pad > 0 && node.stride > 1;
        const x = explicit ? zeroPad(at(node.input), node.pad, `${node.name}_pad`) : at(node.input);
        out = apply(
          tfl.layers.conv2d({
            name: node.name,
            filters: node.outChannels,
            kernelSize: node.kernel,
            strides: node.stride,
            padding: node.pad > 0 && !explicit ? "same" : "valid",
            useBias: node.bias,
          }),
          x,
        );
        break;
      }
      case "bn":
        out = apply(
          tfl.layers.batchNormalization({
            name: node.name,
            axis: -1,
            epsilon: node.epsilon,
            center: node.affine,
            scale: node.affine,
          }),
          at(node.input),
        );
        break;
      case "gn":
        out = apply(
          new GroupNormalization({ name: node.name, groups: node.groups, epsilon: node.epsilon }),
          at(node.input),
        );
        break;
      case "relu":
        out = apply(tfl.layers.reLU(), at(node.input));
        break;
      case "maxpool": {
        const zeros = node.padding === "zeros";
        // Keras names the pad `pool1_pad` beside `pool1_pool`.
        const padName = `${node.name.replace(/_pool$/, "")}_pad`;
        const x = zeros ? zeroPad(at(node.input), 1, padName) : at(node.input);
        out = apply(
          tfl.layers.maxPooling2d({
            name: node.name,
            poolSize: node.size,
            strides: node.stride,
            padding: zeros ? "valid" : "same",
          }),
          x,
        );
        break;
      }
      case "avgpool":
        // 'same' averages only the pixels a window covers: ceil mode without counting padding.
        out = apply(
          tfl.layers.averagePooling2d({
            poolSize: node.size,
            strides: node.stride,
            padding: "same",
          }),
          at(node.input),
        );
        break;
      case "subsample":
        out = apply(
          node.mode === "avgpool"
            ? tfl.layers.averagePooling2d({ poolSize: node.stride, strides: node.stride })
            : tfl.layers.maxPooling2d({ poolSize: 1, strides: node.stride }),
          at(node.input),
        );
        break;
      case "padChannels":
        out = apply(new PadChannels({ before: node.before, after: node.after }), at(node.input));
        break;
      case "add":
        out = apply(tfl.layers.add(), node.inputs.map(at));
        break;
      case "globalPool":
        if (node.keepDims) {
          // An attention module's squeeze: the mean as a 1×1 map. (tfjs' Reshape leaves a -1
          // unresolved beside the batch dimension, so the channel count is spelled out.)
          const channels = at(node.input).shape[3] as number;
          out = apply(
            tfl.layers.reshape({ targetShape: [1, 1, channels] }),
            apply(tfl.layers.globalAveragePooling2d({}), at(node.input)),
          );
          break;
        }
        out = apply(
          node.kind === "avg"
            ? tfl.layers.globalAveragePooling2d({ name: "avg_pool" })
            : tfl.layers.globalMaxPooling2d({ name: "max_pool" }),
          at(node.input),
        );
        break;
      case "sigmoid":
        out = apply(tfl.layers.activation({ activation: "sigmoid" }), at(node.input));
        break;
      case "mul":
        out = apply(tfl.layers.multiply(), node.inputs.map(at));
        break;
      case "channelConv": {
        // ECA: the pooled channels as a one-channel sequence, convolved with one filter.
        const sequence = apply(
          tfl.layers.reshape({ targetShape: [node.channels, 1] }),
          at(node.input),
        );
        const convolved = apply(
          tfl.layers.conv1d({
            name: node.name,
            filters: 1,
            kernelSize: node.kernel,
            padding: "same",
            useBias: false,
          }),
          sequence,
        );
        out = apply(tfl.layers.reshape({ targetShape: [1, 1, node.channels] }), convolved);
        break;
      }
      case "dense":
        out = apply(tfl.layers.dense({ name: node.name, units: node.outFeatures }), at(node.input));
        break;
    }
    values.push(out);
  }
  const outputs = plan.outputs ? plan.outputs.map((i) => values[i]) : values[plan.output];
  const model = tfl.model({ inputs: input, outputs, name: options.name });
  if (weights) setLayersWeights(model, weights);
  return model;
}

/**
 * Loads a weight map into a LayersModel built from the same plan (weights matched by `layer/param` name).
 *
 * @example
 * ```ts
 * import { getSpec } from "../arch/presets.ts";
 * import { planResNet } from "../arch/plan.ts";
 * import { initialWeights } from "../arch/weights.ts";
 * import { useBackend } from "./backend.ts";
 * await useBackend("cpu");
 * const plan = planResNet(getSpec("cifar_resnet20"));
 * const model = buildLayersModel(plan, { inputShape: [32, 32] });
 * setLayersWeights(model, initialWeights(plan, 1));
 * model.dispose();
 * ```
 */
export function setLayersWeights(model: LayersModel, weights: WeightMap): void {
  for (const layer of model.layers) {
    if (layer.weights.length === 0) continue;
    const values = layer.weights.map((variable) => {
      const name = `${layer.name}/${variable.originalName.split("/").pop()}`;
      const weight = weights.get(name);
      if (!weight) throw new Error(`no weight '${name}' for layer '${layer.name}'`);
      return tf.tensor(weight.data, weight.shape);
    });
    layer.setWeights(values);
    tf.dispose(values);
  }
}

/**
 * Reads a LayersModel's weights back into a weight map (after `fit`, say).
 *
 * @example
 * ```ts
 * import { getSpec } from "../arch/presets.ts";
 * import { planResNet } from "../arch/plan.ts";
 * import { useBackend } from "./backend.ts";
 * await useBackend("cpu");
 * const model = buildLayersModel(planResNet(getSpec("cifar_resnet20")), { inputShape: [32, 32] });
 * console.log(getLayersWeights(model).has("conv1/kernel")); // true
 * model.dispose();
 * ```
 */
export function getLayersWeights(model: LayersModel): WeightMap {
  const weights: WeightMap = new Map();
  for (const layer of model.layers) {
    for (const variable of layer.weights) {
      const name = `${layer.name}/${variable.originalName.split("/").pop()}`;
      weights.set(name, {
        shape: variable.shape as number[],
        data: variable.read().dataSync() as Float32Array,
      });
    }
  }
  return weights;
}
