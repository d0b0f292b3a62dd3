/**
 * The architecture layer: ResNets as data. A {@link ResNetSpec} (with its presets) is lowered by
 * {@link planResNet} to one plan that every builder, importer, exporter and parameter count
 * reads. Also the contracts that travel with weights (preprocessing, label sets) and the
 * project's errors. Pure data and functions: no tfjs, no I/O.
 *
 * @example
 * ```ts
 * import { countParams, getSpec, planResNet } from "@denozoo/zoo/arch";
 * console.log(countParams(planResNet(getSpec("resnet50"))).trainable); // 25557032
 * ```
 *
 * @module
 */

export {
  checkInputShape,
  CIFAR_NAMES,
  defaultInputSize,
  KERAS_NAMES,
  layerName,
  type NamingScheme,
  OPTION_A_CONVENTION,
  parseShortcut,
  type ResNetSpec,
  shortcutName,
  SPEC_CHOICES,
  SPEC_DEFAULTS,
  TF_OFFICIAL_NAMES,
  TIMM_AVG_DOWN_NAMES,
  TIMM_V2_NAMES,
  TORCHVISION_NAMES,
} from "./spec.ts";
export { getSpec, listArchitectures, PRESETS, withOptionB } from "./presets.ts";
export {
  type AddNode,
  type AvgPoolNode,
  type BatchNormNode,
  type ChannelConvNode,
  type ConvNode,
  countParams,
  deepStemWidths,
  type DenseNode,
  ecaKernel,
  type GlobalPoolNode,
  type GroupNormNode,
  type InputNode,
  type MaxPoolNode,
  type MulNode,
  type PadChannelsNode,
  type ParamCounts,
  type Plan,
  type PlanBlock,
  type PlanNode,
  type PlanOptions,
  planOutputs,
  planResNet,
  type ReluNode,
  seChannels,
  type SigmoidNode,
  type SubsampleNode,
  type WeightSlot,
  weightSlots,
} from "./plan.ts";
export {
  checkWeights,
  type FitOptions,
  fitWeights,
  initialWeights,
  seededRandom,
  type Weight,
  type WeightMap,
} from "./weights.ts";
export {
  featureCandidates,
  type FeatureInfo,
  type FeatureOptions,
  type FeaturePlan,
  planFeatures,
} from "./features.ts";
export { appliedKernel, foldBatchNorm } from "./fold.ts";
export {
  CIFAR10_RAW,
  CIFAR10_TORCH,
  IMAGENET_MEAN,
  IMAGENET_STD,
  type Interpolation,
  INTERPOLATIONS,
  KERAS_CAFFE,
  KERAS_TF,
  PREPROCESS_PRESETS,
  type PreprocessMode,
  type PreprocessSpec,
  TF_OFFICIAL,
  TIMM_256_CROP_95,
  TIMM_CROP_875,
  TIMM_CROP_95,
  TORCHVISION_V1,
  TORCHVISION_V2,
} from "./preprocess.ts";
export {
  cifar10Labels,
  classNames,
  imagenetLabels,
  isLabelSet,
  LABEL_SETS,
  type Labels,
  type LabelSet,
  labelsFor,
  parseLabelFile,
} from "./labels.ts";
export {
  defaultLabelSet,
  defaultPreprocess,
  graphPreprocess,
  type SpecFamily,
} from "./defaults.ts";
export { NotZooResNetError, ZooFormatError } from "./errors.ts";
