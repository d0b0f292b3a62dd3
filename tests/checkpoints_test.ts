/**
 * Real checkpoint layouts (issue 15), against torch's outputs: option-A shortcut variants, the
 * wrappers training scripts save, graphs a zoo spec must not be matched to, and the refusals a
 * user reads. Fixtures and torch's outputs: `testdata/fixtures/checkpoints/generate.py`.
 */

import * as tf from "@tensorflow/tfjs-core";
import { assert, assertEquals, assertRejects, assertStringIncludes } from "@std/assert";
import { importFile } from "../convert/import.ts";
import { exportOnnx } from "../convert/onnx_export.ts";
import { OPTION_A_ASSUMPTION } from "../convert/structure.ts";
import { NotZooResNetError, ZooFormatError } from "../arch/errors.ts";
import { parseShortcut, shortcutName } from "../arch/spec.ts";
import { createModel } from "../runtime/model.ts";
import { buildLayersModel } from "../runtime/layers.ts";
import { createOrtSession } from "../runtime/ort.ts";
import { useBackend } from "../runtime/backend.ts";
import { resolveBytes } from "../pipelines/resolve.ts";
import { npy, relativeError } from "./helpers.ts";

await useBackend("wasm");

const dir = new URL("../testdata/fixtures/checkpoints/", import.meta.url).pathname;
const at = (file: string) => `${dir}${file}`;
const input = await npy(at("cifar_input.npy"));
const nchw = () => tf.tensor4d(input.data, input.shape as [number, number, number, number]);

async function zooLogits(file: string, options: Parameters<typeof importFile>[1] = {}) {
  const imported = await importFile(at(file), options);
  const model = createModel(imported.spec, {
    weights: imported.weights,
    dataFormat: "channels_first",
  });
  const y = model.predict(nchw());
  const logits = (await y.data()) as Float32Array;
  y.dispose();
  model.dispose();
  return { imported, logits };
}

const VARIANTS = {
  slice_both: "slice-both",
  slice_end: "slice-end",
  avg_both: "avgpool-both",
  avg_end: "avgpool-end",
};

for (const [variant, name] of Object.entries(VARIANTS)) {
  Deno.test(`optA_${variant}.pth: the file cannot tell its shortcut, so it is told; --shortcut ${name} reproduces torch`, async () => {
    const torch = (await npy(at(`optA_${variant}_logits.npy`))).data;
    const guessed = await zooLogits(`optA_${variant}.pth`);
    assertEquals(shortcutName(guessed.imported.spec), "slice-both");
    assert(guessed.imported.assumptions.includes(OPTION_A_ASSUMPTION));
    const guessError = relativeError(guessed.logits, torch);
    // The convention is right for akamaster's code and plainly wrong for the others: the warning matters.
    if (name === "slice-both") assert(guessError < 1e-4, `${guessError}`);
    else assert(guessError > 0.05, `${variant}: the convention gave ${guessError}`);

    const chosen = await zooLogits(`optA_${variant}.pth`, { shortcut: parseShortcut(name) });
    assertEquals(shortcutName(chosen.imported.spec), name);
    assert(!chosen.imported.assumptions.includes(OPTION_A_ASSUMPTION));
    const error = relativeError(chosen.logits, torch);
    assert(error < 1e-4, `${variant} with --shortcut ${name}: relative error ${error}`);

    // Every builder that reads plans implements the variant: LayersModel and the ONNX export.
    const { spec, weights } = chosen.imported;
    const model = createModel(spec, { weights, dataFormat: "channels_first" });
    // The fixtures are 16×16, below what createModel builds a LayersModel for.
    const layersModel = buildLayersModel(
      model.plan,
      { inputShape: [16, 16], dataFormat: "channels_first" },
      weights,
    );
    const layers = layersModel.predict(nchw()) as tf.Tensor;
    const layersError = relativeError((await layers.data()) as Float32Array, torch);
    assert(layersError < 1e-4, `${variant} LayersModel: ${layersError}`);
    layersModel.dispose();
    const session = await createOrtSession(await exportOnnx(model.plan, model.weights));
    const exported = await session.run(input.data, input.shape);
    await session.dispose();
    const onnxError = relativeError(exported.data, torch);
    assert(onnxError < 1e-4, `${variant} ONNX export: ${onnxError}`);
    tf.dispose(layers);
    model.dispose();
  });

  Deno.test(`optA_${variant}.onnx: the graph tells its shortcut; torch's logits, no assumption`, async () => {
    const torch = (await npy(at(`optA_${variant}_logits.npy`))).data;
    const { imported, logits } = await zooLogits(`optA_${variant}.onnx`);
    assertEquals(shortcutName(imported.spec), name);
    assertEquals(imported.assumptions, []);
    const error = relativeError(logits, torch);
    assert(error < 1e-4, `${variant}.onnx: relative error ${error}`);
    // A forced variant the graph does not have is refused, not run.
    const other = name === "slice-both" ? "avgpool-end" : "slice-both";
    await assertRejects(
      () => importFile(at(`optA_${variant}.onnx`), { shortcut: parseShortcut(other) }),
      NotZooResNetError,
      "the shortcut's",
    );
  });
}

const WRAPPERS: [string, string][] = [
  [
    "wrap_net_module.pth",
    "weights from checkpoint['net'], 'module.' stripped from every key; also in the file, unused: acc, epoch",
  ],
  ["wrap_net_legacy.pth", "weights from checkpoint['net'], 'module.' stripped"],
  ["wrap_state_acc.pth", "weights from checkpoint['state']; also in the file, unused: acc, epoch"],
  [
    "wrap_model_state_dict.pth",
    "weights from checkpoint['model_state_dict']; also in the file, unused: epoch, optimizer_state_dict, loss",
  ],
  [
    "wrap_torchvision_ref.pth",
    "weights from checkpoint['model'] (an EMA copy is also in the file, unused: checkpoint['model_ema']); also in the file, unused: optimizer, lr_scheduler, epoch, args",
  ],
  [
    "wrap_ema_only.pth",
    "weights from checkpoint['model_ema'] (an EMA copy: the only weights in the file), 'module.' stripped",
  ],
  ["wrap_lightning.pth", "weights from checkpoint['state_dict'], 'model.' stripped"],
  [
    "wrap_nested.pth",
    "weights from checkpoint['state']['model'], 'module.' stripped from every key; also in the file, unused: checkpoint, epoch, state.best",
  ],
];

Deno.test("every wrapper layout training scripts save converts and reproduces torch, saying which entry it used", async () => {
  const torch = (await npy(at("cifar_b_logits.npy"))).data;
  for (const [file, note] of WRAPPERS) {
    const { imported, logits } = await zooLogits(file);
    assertStringIncludes(imported.notes?.[0] ?? "", note, file);
    const error = relativeError(logits, torch);
    assert(error < 1e-4, `${file}: relative error ${error}`);
  }
});

Deno.test("a whole pickled nn.Module and non-zoo state dicts are refused with the true reason", async () => {
  const whole = await assertRejects(() => importFile(at("whole_module.pth")), ZooFormatError);
  assertStringIncludes(whole.message, "a whole pickled nn.Module (torch.save(model))");
  assertStringIncludes(whole.message, "torch.save(model.state_dict(), path)");
  const reasons = [
    [
      "notzoo_conv3x3_shortcut.pth",
      "conv 'layer2.0.shortcut.0' (3×3, 4→8) at position 10 does not fit",
    ],
    ["notzoo_mnist_stem.pth", "conv 'conv1' (5×5, 1→4) at position 0 does not fit"],
  ];
  for (const [file, reason] of reasons) {
    const bytes = await Deno.readFile(at(file));
    // Not "a graph to run": a state dict has none, so nothing falls through to another reader.
    const error = await assertRejects(() => resolveBytes(bytes, file), ZooFormatError);
    assert(!(error instanceof NotZooResNetError), file);
    assertStringIncludes(error.message, reason);
    assertStringIncludes(error.message, "export the network with torch.onnx.export");
    assert(!/keras/i.test(error.message), error.message);
  }
});

const OWN_GRAPHS: [string, string, string, "nchw" | "nhwc"][] = [
  ["nhwc_softmax.onnx", "nhwc_input.npy", "it goes on with Softmax 'logits'", "nhwc"],
  [
    "nhwc_uneven_softmax.onnx",
    "nhwc_input.npy",
    "conv 'b2c1/conv' (3×3, 4→8) has pads [0, 0, 1, 1]",
    "nhwc",
  ],
  ["audio_3d.onnx", "audio_3d_input.npy", "not a ResNet this zoo knows", "nchw"],
  ["keras_dense.h5", "keras_dense_input.npy", "the file has no convolution", "nhwc"],
];

Deno.test("graphs no zoo spec computes run as their own graph, with the reason, and reproduce torch", async () => {
  for (const [file, inputFile, reason, layout] of OWN_GRAPHS) {
    const resolved = await resolveBytes(await Deno.readFile(at(file)), at(file));
    if (resolved.kind !== "graph") throw new Error(`${file} matched ${resolved.model.spec.name}`);
    assertStringIncludes(resolved.reason.message, reason);
    const graph = await resolved.load();
    assertEquals(graph.layout, layout, file);
    const x = await npy(at(inputFile));
    const y = graph.predict(tf.tensor(x.data, x.shape));
    const reference = (await npy(
      at(file.replace(/\.(onnx|h5)$/, file.endsWith(".h5") ? "_output.npy" : "_logits.npy")),
    )).data;
    const error = relativeError((await y.data()) as Float32Array, reference);
    assert(error < 1e-4, `${file}: relative error ${error}`);
    tf.dispose(y);
    graph.dispose();
  }
});

Deno.test("a ResNeXt graph is a zoo spec with its groups and reproduces torch", async () => {
  const imported = await importFile(at("resnext_tiny.onnx"));
  assertEquals([imported.spec.groups, imported.assumptions], [4, []]);
  const x = await npy(at("cifar_input.npy"));
  const model = createModel(imported.spec, {
    weights: imported.weights,
    dataFormat: "channels_first",
  });
  const y = model.predict(tf.tensor4d(x.data, x.shape as [number, number, number, number]));
  const error = relativeError(
    (await y.data()) as Float32Array,
    (await npy(at("resnext_tiny_logits.npy"))).data,
  );
  assert(error < 1e-4, `relative error ${error}`);
  tf.dispose(y);
  model.dispose();
});

Deno.test("an NHWC graph with the zoo's padding and no Softmax is a zoo ResNet and reproduces torch", async () => {
  const imported = await importFile(at("nhwc_resnet.onnx"));
  assertEquals([imported.sourceLayout, imported.assumptions], ["nhwc", []]);
  const x = await npy(at("nhwc_input.npy"));
  const model = createModel(imported.spec, { weights: imported.weights });
  const y = model.predict(tf.tensor4d(x.data, x.shape as [number, number, number, number]));
  const error = relativeError(
    (await y.data()) as Float32Array,
    (await npy(at("nhwc_resnet_logits.npy"))).data,
  );
  assert(error < 1e-4, `relative error ${error}`);
  tf.dispose(y);
  model.dispose();
  // The same graph rounding its input to bfloat16 matches too, and says the zoo does not round.
  const rounded = await importFile(at("nhwc_bfloat16_input.onnx"));
  assertStringIncludes(
    rounded.assumptions.join("\n"),
    "rounds values to a narrower float type at 'input_bf16' (bfloat16)",
  );
});
