/**
 * timm's ImageNet weights for the ResNet variants the zoo describes: ResNet-D (deep stem, pooled
 * projections), SE-ResNet, ECA-ResNet-D and SE-ResNeXt-D, from the pretrained configs of
 * `timm/models/resnet.py` (URL, input size, `crop_pct`, ImageNet mean and std, license
 * `apache-2.0`) and the accuracies of `results/results-imagenet.csv` at the config's input size.
 * timm names each file with the start of its SHA-256 (`clean_checkpoint.py`).
 *
 * @example
 * ```ts
 * import { TIMM_WEIGHTS } from "./timm.ts";
 * console.log(TIMM_WEIGHTS.find((e) => e.id === "resnet50d.ra2_in1k")?.metrics.top1); // 80.546
 * ```
 *
 * @module
 */

import type { WeightsEntry } from "../registry.ts";

const IN1K = "ImageNet-1k validation";

const RELEASES = "https://github.com/rwightman/pytorch-image-models/releases/download/";
const HF_RELEASES = "https://github.com/huggingface/pytorch-image-models/releases/download/";

/**
 * Rows: [timm `model.tag` (the model is the zoo preset), file URL, the pretrained config's input
 * size and crop_pct as a preprocessing preset, top-1 and top-5 at that input size, parameters].
 */
const TIMM_ROWS: [string, string, WeightsEntry["preprocess"], number, number, number][] = [
  [
    "resnet18d.ra2_in1k",
    `${RELEASES}v0.1-weights/resnet18d_ra2-48a79e06.pth`,
    "TIMM_CROP_875",
    72.296,
    90.682,
    11_708_744,
  ],
  [
    "resnet34d.ra2_in1k",
    `${RELEASES}v0.1-weights/resnet34d_ra2-f8dcfcaf.pth`,
    "TIMM_CROP_875",
    77.108,
    93.372,
    21_816_904,
  ],
  [
    "resnet26d.bt_in1k",
    `${RELEASES}v0.1-weights/resnet26d-69e92c46.pth`,
    "TIMM_CROP_875",
    76.698,
    93.156,
    16_014_408,
  ],
  [
    "resnet50d.ra2_in1k",
    `${RELEASES}v0.1-weights/resnet50d_ra2-464e36ba.pth`,
    "TIMM_CROP_875",
    80.546,
    95.160,
    25_576_264,
  ],
  [
    "resnet50d.a1_in1k",
    `${HF_RELEASES}v0.1-rsb-weights/resnet50d_a1_0-e20cff14.pth`,
    "TIMM_CROP_95",
    80.730,
    94.678,
    25_576_264,
  ],
  [
    "resnet101d.ra2_in1k",
    `${RELEASES}v0.1-weights/resnet101d_ra2-2803ffab.pth`,
    "TIMM_256_CROP_95",
    82.254,
    96.070,
    44_568_392,
  ],
  [
    "seresnet50.ra2_in1k",
    `${RELEASES}v0.1-weights/seresnet50_ra_224-8efdb4bb.pth`,
    "TIMM_CROP_875",
    80.260,
    95.068,
    28_088_024,
  ],
  [
    "seresnet50.a1_in1k",
    `${HF_RELEASES}v0.1-rsb-weights/seresnet50_a1_0-ffa00869.pth`,
    "TIMM_CROP_95",
    80.012,
    94.704,
    28_088_024,
  ],
  [
    "ecaresnet50d.miil_in1k",
    `${RELEASES}v0.1-tresnet/ecaresnet50d-93c81e3b.pth`,
    "TIMM_CROP_875",
    80.634,
    95.310,
    25_576_350,
  ],
  [
    "seresnext26d_32x4d.bt_in1k",
    `${RELEASES}v0.1-weights/seresnext26d_32x4d-80fa48a3.pth`,
    "TIMM_CROP_875",
    77.592,
    93.614,
    16_809_512,
  ],
];

/** What each preprocessing name means in timm's own terms. */
const TIMM_CONFIG: Record<string, string> = {
  TIMM_CROP_875: "input 224, crop_pct 0.875",
  TIMM_CROP_95: "input 224, crop_pct 0.95",
  TIMM_256_CROP_95: "input 256, crop_pct 0.95",
};

function timmEntry(
  [id, url, preprocess, top1, top5, params]: (typeof TIMM_ROWS)[number],
): WeightsEntry {
  const file = url.slice(url.lastIndexOf("/") + 1);
  return {
    id,
    architecture: id.slice(0, id.indexOf(".")),
    urls: [url],
    hash: {
      algorithm: "sha256-prefix",
      value: file.slice(file.lastIndexOf("-") + 1, -".pth".length),
    },
    // timm's files span 2019 to 2021, before and after torch.save's zip default.
    sourceFormat: "pytorch",
    preprocess,
    labels: "imagenet",
    license: "Apache-2.0",
    metrics: { top1, top5, params, dataset: IN1K },
    notes: `timm pretrained config '${id}': ${TIMM_CONFIG[preprocess]}, bicubic, ImageNet ` +
      "mean/std. Accuracy from timm's results-imagenet.csv at that " +
      `input size. timm also serves it as hf-hub timm/${id}; upstream does not record whether ` +
      "the file is a zip or a legacy torch.save (the zoo reads both).",
  };
}

/** timm's ResNet-D, SE, ECA and SE-ResNeXt-D ImageNet weights with a published file URL. */
export const TIMM_WEIGHTS: readonly WeightsEntry[] = TIMM_ROWS.map(timmEntry);
