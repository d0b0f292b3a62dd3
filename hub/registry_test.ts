import { assert, assertEquals, assertMatch, assertThrows } from "@std/assert";
import { createHash } from "node:crypto";
import {
  DEFAULT_WEIGHTS,
  defaultWeights,
  findWeights,
  REGISTRY,
  type WeightsEntry,
} from "./registry.ts";
import { PRESETS } from "../arch/presets.ts";
import { countParams, planResNet } from "../arch/plan.ts";
import * as preprocess from "../arch/preprocess.ts";

function bySource(suffix: RegExp): WeightsEntry[] {
  return REGISTRY.filter((entry) => suffix.test(entry.id));
}

Deno.test("registry: every published ResNet file is there once", () => {
  assertEquals(new Set(REGISTRY.map((e) => e.id)).size, REGISTRY.length);
  // ResNet 18/34 V1, 50/101/152 V1+V2; ResNeXt-50 and -101 32×8d, Wide-50/101 V1+V2, ResNeXt-101 64×4d V1.
  assertEquals(bySource(/\.tv2?_in1k$/).length, 17);
  assertEquals(bySource(/\.(ra2|bt|a1|miil)_in1k$/).length, 10); // timm's
  assertEquals(bySource(/\.keras_in1k$/).length, 6);
  assertEquals(bySource(/\.keras_in1k_notop$/).length, 6);
  assertEquals(bySource(/\.onnx(_opset12)?_in1k$/).length, 11);
  assertEquals(bySource(/\.cifar10$/).length, 4);
  assertEquals(bySource(/\.f16$/).length, 2); // half-precision variants
  assertEquals(REGISTRY.length, 56);
});

Deno.test("registry: architectures, preprocessing and param counts agree with the zoo", () => {
  for (const entry of REGISTRY) {
    const spec = PRESETS[entry.architecture];
    assert(spec, `${entry.id}: architecture ${entry.architecture} is not a preset`);
    assert(entry.preprocess in preprocess, `${entry.id}: no preset ${entry.preprocess}`);
    assertEquals(entry.labels === "cifar10", spec.classes === 10, entry.id);
    if (entry.metrics.params === undefined) {
      // Only the MXNet Gluon nets of the ONNX zoo match no preset; their notes must say so.
      assertEquals(entry.sourceFormat, "onnx", entry.id);
      assertMatch(entry.notes ?? "", /Gluon.*no param count/, entry.id);
      continue;
    }
    const counts = countParams(planResNet(spec, { includeTop: entry.includeTop ?? true }));
    const reported = spec.naming.countsStatistics ? counts.total : counts.trainable;
    assertEquals(entry.metrics.params, reported, entry.id);
  }
  // FACTS A.4: Keras ResNet50 minus torchvision's count is exactly the v1 conv biases.
  const keras = findWeights("resnet50.keras_in1k").metrics.params ?? 0;
  assertEquals(keras - (findWeights("resnet50.tv_in1k").metrics.params ?? 0), 79_680);
  assertEquals(findWeights("resnet50.keras_in1k_notop").metrics.params, 23_587_712);
});

Deno.test("registry: hashes have the published form", () => {
  for (const entry of REGISTRY) {
    const { algorithm, value } = entry.hash;
    const digits = { sha256: 64, "sha256-prefix": 8, md5: 32 }[algorithm];
    assertMatch(value, new RegExp(`^[0-9a-f]{${digits}}$`), entry.id);
    const file = entry.urls[0].split("/").pop() ?? "";
    // torch.hub names embed the sha256 prefix: <name>-<prefix>.<ext>.
    if (algorithm === "sha256-prefix") assertEquals(file.split(/[-.]/)[1], value, entry.id);
    for (const url of entry.urls) assertMatch(url, /^https:\/\/[^/]+\/.+[^/]$/, entry.id);
  }
  assertEquals(findWeights("resnet50v2.keras_in1k").hash, {
    algorithm: "md5",
    value: "3ef43a0b657b3be2300d5770ece849e0",
  });
  assertEquals(findWeights("resnet50_v1.onnx_opset12_in1k").metrics.fileSizeBytes, 102_576_593);
  assertEquals(
    findWeights("resnet152_v2.onnx_in1k").urls[0],
    "https://github.com/onnx/models/raw/main/validated/vision/classification/resnet/model/resnet152-v2-7.onnx",
  );
});

Deno.test("registry: CIFAR-10 entries match the real upstream files in testdata", async () => {
  const expected = [[20, 91.25], [32, 92.49], [44, 92.97], [56, 93.39]];
  for (const [depth, top1] of expected) {
    const entry = findWeights(`cifar_resnet${depth}.cifar10`);
    assertEquals(entry.metrics.top1, top1);
    assertEquals(entry.sourceFormat, "pytorch-legacy");
    assertEquals(entry.preprocess, "CIFAR10_TORCH");
    const file = entry.urls[0].split("/").pop() ?? "";
    assertEquals(
      entry.urls[0],
      `https://github.com/akamaster/pytorch_resnet_cifar10/raw/master/pretrained_models/${file}`,
    );
    const bytes = await Deno.readFile(
      new URL(`../testdata/cifar10-resnet/${file}`, import.meta.url).pathname,
    );
    assertEquals(entry.metrics.fileSizeBytes, bytes.length, entry.id);
    const sha256 = createHash("sha256").update(bytes).digest("hex");
    assert(sha256.startsWith(entry.hash.value), `${entry.id}: sha256 ${sha256}`);
  }
});

Deno.test("registry: torchvision and Keras metadata as published", () => {
  const v2 = findWeights("resnet50.tv2_in1k");
  assertEquals(v2.urls, ["https://download.pytorch.org/models/resnet50-11ad3fa6.pth"]);
  assertEquals(v2.metrics.top1, 80.858);
  assertEquals(v2.preprocess, "TORCHVISION_V2");
  assertEquals(findWeights("resnet18.tv_in1k").preprocess, "TORCHVISION_V1");
  const keras = findWeights("resnet152v2.keras_in1k_notop");
  assertEquals(keras.includeTop, false);
  assertEquals(keras.metrics.top1, undefined);
  assertEquals(keras.preprocess, "KERAS_TF");
  assertEquals(findWeights("resnet101.keras_in1k").preprocess, "KERAS_CAFFE");
  assertEquals(keras.urls, [
    "https://storage.googleapis.com/tensorflow/keras-applications/resnet/resnet152v2_weights_tf_dim_ordering_tf_kernels_notop.h5",
    "https://github.com/keras-team/keras-applications/releases/download/resnet/resnet152v2_weights_tf_dim_ordering_tf_kernels_notop.h5",
  ]);
});

Deno.test("registry: an unknown id lists the close ones", () => {
  const error = assertThrows(() => findWeights("resnet50.tv3_in1k"), Error);
  assertMatch(error.message, /unknown weights 'resnet50\.tv3_in1k'/);
  assertMatch(error.message, /resnet50\.tv_in1k, resnet50\.tv2_in1k/);
  assertMatch(
    assertThrows(() => findWeights("cifar_resnet2.cifar10"), Error).message,
    /cifar_resnet20\.cifar10/,
  );
});

Deno.test("registry: ResNeXt, Wide ResNet and timm entries carry their upstream configs", () => {
  const resnext = findWeights("resnext101_32x8d.tv2_in1k");
  assertEquals(
    resnext.urls[0],
    "https://download.pytorch.org/models/resnext101_32x8d-110c445d.pth",
  );
  assertEquals([resnext.metrics.top1, resnext.metrics.params], [82.834, 88_791_336]);
  assertEquals(resnext.preprocess, "TORCHVISION_V2");
  // torchvision trained ResNeXt-101 64×4d with the new recipe only, and evaluates it at 232.
  assertEquals(findWeights("resnext101_64x4d.tv_in1k").preprocess, "TORCHVISION_V2");
  assertEquals(findWeights("wide_resnet50_2.tv_in1k").preprocess, "TORCHVISION_V1");
  assertEquals(findWeights("wide_resnet101_2.tv2_in1k").metrics.top1, 82.51);
  const timm = REGISTRY.filter((e) => e.license === "Apache-2.0");
  assertEquals(timm.length, 10);
  for (const entry of timm) {
    assertMatch(
      entry.urls[0],
      /^https:\/\/github\.com\/(rwightman|huggingface)\/pytorch-image-models\/releases\/download\//,
    );
    assertEquals(entry.sourceFormat, "pytorch", entry.id);
  }
  const d = findWeights("resnet50d.ra2_in1k");
  assertEquals([d.architecture, d.preprocess, d.metrics.top1], [
    "resnet50d",
    "TIMM_CROP_875",
    80.546,
  ]);
  assertEquals(preprocess.TIMM_CROP_875, {
    resize: 256,
    crop: 224,
    interpolation: "bicubic",
    mode: "torch",
  });
  // timm evaluates every pretrained config bicubic; so do the presets its entries name.
  for (const entry of REGISTRY.filter((e) => e.preprocess.startsWith("TIMM_"))) {
    assertEquals(preprocess[entry.preprocess].interpolation, "bicubic", entry.id);
    assertEquals(entry.notes?.includes("bilinear"), false, entry.id);
  }
  assertEquals(findWeights("seresnet50.a1_in1k").preprocess, "TIMM_CROP_95");
  assertEquals(preprocess.TIMM_CROP_95.resize, 235); // ⌊224 / 0.95⌋
  assertEquals(findWeights("resnet101d.ra2_in1k").preprocess, "TIMM_256_CROP_95");
  assertEquals(findWeights("resnet26d.bt_in1k").hash.value, "69e92c46");
});

Deno.test("registry: one DEFAULT per architecture, of that architecture, with its classifier", () => {
  const architectures = new Set(REGISTRY.map((e) => e.architecture));
  assertEquals(new Set(Object.keys(DEFAULT_WEIGHTS)), architectures);
  for (const architecture of architectures) {
    assert(defaultWeights(architecture), `${architecture} has no default weights`);
    const entry = defaultWeights(architecture)!;
    assertEquals(entry.architecture, architecture);
    assertEquals(entry.includeTop ?? true, true, entry.id);
  }
  // torchvision's own DEFAULT: V2 where it exists.
  assertEquals(
    ["resnet18", "resnet50", "resnet152"].map((a) => defaultWeights(a)?.id),
    ["resnet18.tv_in1k", "resnet50.tv2_in1k", "resnet152.tv2_in1k"],
  );
  assertEquals(defaultWeights("cifar_resnet110"), undefined);
  assertEquals(defaultWeights("toString"), undefined);
});
