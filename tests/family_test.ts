/**
 * The ResNet family as data, end to end: torch's ResNeXt, Wide ResNet, ResNet-D, SE-ResNet and
 * ECA-ResNet-D (testdata/fixtures/family, written by its generate.py) import from every file
 * with their architecture detected and reproduce torch's logits; the zoo's ONNX export of each
 * runs in onnxruntime with the same logits; and the CLI names, lists and describes the family.
 */

import * as tf from "@tensorflow/tfjs-core";
import { assert, assertEquals, assertMatch, assertRejects } from "@std/assert";
import { type ImportedModel, importFile } from "../convert/import.ts";
import { ZooFormatError } from "../arch/errors.ts";
import { exportOnnx } from "../convert/onnx_export.ts";
import { readZooWeights, writeZooWeights } from "../convert/zoofile.ts";
import { createModel } from "../runtime/model.ts";
import { createOrtSession } from "../runtime/ort.ts";
import { useBackend } from "../runtime/backend.ts";
import { initialWeights } from "../arch/weights.ts";
import { planResNet } from "../arch/plan.ts";
import { getSpec } from "../arch/presets.ts";
import type { ResNetSpec } from "../arch/spec.ts";
import { type CliResult, npy, relativeError, runCli } from "./helpers.ts";

await useBackend("wasm");

const here = (path: string) => new URL(path, import.meta.url).pathname;
const family = (file: string) => here(`../testdata/fixtures/family/${file}`);

/** Each net, the spec fields its files must be detected with, and its assumption from a state dict. */
const NETS: [string, Partial<ResNetSpec>, RegExp][] = [
  ["tv_resnext", { stem: "imagenet", groups: 4, baseWidth: 16, expansion: 4 }, /first block/],
  ["tv_wide", { groups: 1, baseWidth: 128, expansion: 4, widths: [4, 8, 12, 16] }, /first block/],
  ["timm_resnet_d", { stem: "deep", stemWidth: 8, avgDown: true, attention: "none" }, /ResNet-D/],
  ["timm_seresnet", { attention: "se", seReduction: 16, seDivisor: 8, avgDown: false }, /3×3/],
  ["timm_ecaresnet_d", { stem: "deep", avgDown: true, attention: "eca" }, /ResNet-D/],
];

const FILES: [string, string][] = [
  [".pth", "pytorch-zip"],
  [".onnx", "onnx"],
  ["_bn.onnx", "onnx"],
];

async function expectTorchLogits(net: string, imported: ImportedModel, what: string) {
  const x = await npy(family(`${net}_input.npy`));
  const expected = await npy(family(`${net}_logits.npy`));
  const model = createModel(imported.spec, {
    weights: imported.weights,
    dataFormat: "channels_first",
  });
  const y = model.predict(tf.tensor4d(x.data, x.shape as [number, number, number, number]));
  const error = relativeError((await y.data()) as Float32Array, expected.data);
  assert(error < 1e-4, `${what}: relative error ${error}`);
  y.dispose();
  model.dispose();
}

function expectFields(spec: ResNetSpec, fields: Partial<ResNetSpec>, what: string) {
  for (const [field, value] of Object.entries(fields)) {
    assertEquals(spec[field as keyof ResNetSpec], value, `${what}: ${field}`);
  }
}

for (const [net, fields, assumed] of NETS) {
  Deno.test(`${net}: .pth, folded and BN-kept ONNX reproduce torch's logits within 1e-4`, async () => {
    for (const [suffix, format] of FILES) {
      const imported = await importFile(family(net + suffix));
      assertEquals(imported.format, format);
      expectFields(imported.spec, fields, net + suffix);
      // A state dict records no strides, so their placement is a stated assumption; a graph
      // records them.
      if (suffix === ".pth") assert(imported.assumptions.some((a) => assumed.test(a)));
      else assertEquals(imported.assumptions, []);
      await expectTorchLogits(net, imported, net + suffix);
    }
  });
}

Deno.test("bit: GroupNorm and weight standardisation from the graph; a state dict needs the groups", async () => {
  const fields: Partial<ResNetSpec> = {
    preact: true,
    stemNorm: false,
    norm: "group",
    normGroups: 4,
    weightStandardization: 1e-8,
    poolPadding: "zeros",
  };
  let spec: ResNetSpec | null = null;
  for (const suffix of [".onnx", "_op11.onnx"]) {
    const imported = await importFile(family(`bit${suffix}`));
    expectFields(imported.spec, fields, `bit${suffix}`);
    assertEquals(imported.assumptions, []);
    await expectTorchLogits("bit", imported, `bit${suffix}`);
    spec = imported.spec;
  }
  // The state dict's GroupNorms do not say they have 4 groups: refused, saying so...
  const error = await assertRejects(() => importFile(family("bit.pth")), ZooFormatError);
  assertMatch(error.message, /GroupNorms record no group count and 32 was tried: give a spec/);
  // ...and imported with the spec given, its weights standardised as BiT's are.
  const forced = await importFile(family("bit.pth"), { arch: spec! });
  await expectTorchLogits("bit", forced, "bit.pth with --arch");
});

Deno.test("the zoo's ONNX export of each family net runs in onnxruntime with torch's logits", async () => {
  for (const net of [...NETS.map(([net]) => net), "bit"]) {
    const x = await npy(family(`${net}_input.npy`));
    const expected = await npy(family(`${net}_logits.npy`));
    const { spec, weights } = await importFile(family(`${net}.onnx`));
    for (const opset of [11, 13]) {
      const session = await createOrtSession(
        await exportOnnx(planResNet(spec), weights, { opset }),
        { threads: 1 },
      );
      const { data } = await session.run(x.data, x.shape);
      const error = relativeError(data, expected.data);
      assert(error < 1e-4, `${net} opset ${opset}: relative error ${error}`);
      await session.dispose();
    }
  }
});

Deno.test("a family spec round-trips through the zoo file; old files read as plain ResNets", async () => {
  const { spec, weights } = await importFile(family("timm_ecaresnet_d.pth"));
  const file = readZooWeights(writeZooWeights(spec, weights), "eca.safetensors");
  assertEquals(file.spec, spec);
  // Written before groups, stems and attention existed: read with today's meaning of their absence.
  const old = readZooWeights(
    await Deno.readFile(here("../models/cifar_resnet20.safetensors")),
    "cifar_resnet20.safetensors",
  );
  assertEquals(
    [old.spec.groups, old.spec.baseWidth, old.spec.avgDown, old.spec.attention],
    [1, 64, false, "none"],
  );
  assertEquals(old.spec.naming.stemPool, "pool1_pool");
});

const cli = (...args: string[]): Promise<CliResult> => runCli(args);

Deno.test("convert of a ResNeXt-50 ONNX names resnext50_32x4d", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const plan = planResNet(getSpec("resnext50_32x4d"));
    await Deno.writeFile(`${dir}/resnext50.onnx`, await exportOnnx(plan, initialWeights(plan, 3)));
    const { code, stdout, stderr } = await cli(
      "convert",
      `${dir}/resnext50.onnx`,
      "--out",
      `${dir}/resnext50.safetensors`,
    );
    assertEquals(code, 0, stderr);
    assertMatch(stdout, /^architecture: +resnext50_32x4d$/m);
    assertMatch(stdout, /25,028,904/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("list shows the family's weights; info gives their metrics and license", async () => {
  const list = await cli("list");
  assertEquals(list.code, 0, list.stderr);
  for (
    const id of ["resnext101_32x8d.tv2_in1k", "wide_resnet101_2.tv2_in1k", "resnet50d.ra2_in1k"]
  ) {
    assertMatch(list.stdout, new RegExp(`^${id.replace(".", "\\.")} `, "m"));
  }
  assertMatch(list.stdout, /^seresnet50\.ra2_in1k +seresnet50 +pytorch +80\.26 +28,088,024 /m);
  const info = await cli("info", "resnet26d.bt_in1k");
  assertEquals(info.code, 0, info.stderr);
  const entry = JSON.parse(info.stdout);
  assertEquals(entry.license, "Apache-2.0");
  assertEquals(entry.metrics, {
    top1: 76.698,
    top5: 93.156,
    params: 16_014_408,
    dataset: "ImageNet-1k validation",
  });
  assertEquals(entry.preprocess, "TIMM_CROP_875");
});
