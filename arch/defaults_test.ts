import { assertEquals, assertStrictEquals } from "@std/assert";
import { defaultLabelSet, defaultPreprocess, familyOf } from "./defaults.ts";
import { PRESETS } from "./presets.ts";
import { KERAS_NAMES, type ResNetSpec } from "./spec.ts";
import {
  CIFAR10_TORCH,
  KERAS_CAFFE,
  KERAS_TF,
  type PreprocessSpec,
  TORCHVISION_V1,
} from "./preprocess.ts";

Deno.test("each preset family gets its framework's preprocessing", () => {
  const expected: Record<string, PreprocessSpec> = {
    resnet50: TORCHVISION_V1,
    resnet18: TORCHVISION_V1,
    keras_resnet50: KERAS_CAFFE,
    resnet50v2: KERAS_TF,
    resnet18v2: KERAS_TF,
    cifar_resnet20: CIFAR10_TORCH,
    cifar_resnet110: CIFAR10_TORCH,
  };
  for (const [name, preprocess] of Object.entries(expected)) {
    assertStrictEquals(defaultPreprocess(PRESETS[name]), preprocess, name);
  }
});

Deno.test("the stem decides before the naming, the naming before the blocks", () => {
  const cifarKeras: ResNetSpec = { ...PRESETS.cifar_resnet20, naming: KERAS_NAMES, preact: true };
  assertStrictEquals(defaultPreprocess(cifarKeras), CIFAR10_TORCH);
  // Pre-activation alone does not make a torchvision-named net a Keras one.
  assertStrictEquals(defaultPreprocess({ ...PRESETS.resnet50, preact: true }), TORCHVISION_V1);
  // No spec (a network run from its own graph): the fallback.
  assertStrictEquals(defaultPreprocess(), TORCHVISION_V1);
  assertEquals(familyOf(PRESETS.resnet50v2), { stem: "imagenet", naming: "keras", preact: true });
});

Deno.test("a class count picks the label set of that size, else none (never a set of another size)", () => {
  assertEquals(defaultLabelSet(10), "cifar10");
  assertEquals(defaultLabelSet(1000), "imagenet");
  // Issue 14: a 1001- or 7-class model used to get ImageNet's names, wrong for every output; a
  // 1001-class model is TensorFlow's numbering, background first.
  assertEquals(defaultLabelSet(1001), "imagenet_background");
  assertEquals(defaultLabelSet(7), undefined);
  assertEquals(defaultLabelSet(0), undefined);
});
