import * as tf from "@tensorflow/tfjs-core";
import { assert, assertEquals, assertRejects } from "@std/assert";
import { createHash } from "node:crypto";
import { createModel } from "./create.ts";
import { importFile } from "../convert/import.ts";
import { TORCHVISION_V2 } from "../arch/preprocess.ts";
import { findWeights, REGISTRY } from "../hub/registry.ts";
import { useBackend } from "../runtime/backend.ts";
import { decodeImage } from "../vision/decode.ts";
import { preprocessImages } from "../vision/preprocess.ts";
import { startServer } from "../tests/http_fixture.ts";

await useBackend("wasm");

const ENV_KEYS = ["DENOZOO_HOME", "DENOZOO_OFFLINE", "DENOZOO_MIRROR"];

/** Runs `body` with a fresh, empty DENOZOO_HOME and the given variables; restores the env. */
async function withCache(vars: Record<string, string>, body: () => Promise<void>): Promise<void> {
  const saved = Object.fromEntries(ENV_KEYS.map((key) => [key, Deno.env.get(key)]));
  const home = await Deno.makeTempDir({ prefix: "denozoo_create_test_" });
  try {
    for (const key of ENV_KEYS) Deno.env.delete(key);
    Deno.env.set("DENOZOO_HOME", home);
    for (const [key, value] of Object.entries(vars)) Deno.env.set(key, value);
    await body();
  } finally {
    for (const [key, value] of Object.entries(saved)) {
      if (value === undefined) Deno.env.delete(key);
      else Deno.env.set(key, value);
    }
    await Deno.remove(home, { recursive: true });
  }
}

Deno.test("createModel('cifar_resnet20.cifar10') works offline with an empty cache and says cat", async () => {
  await withCache({ DENOZOO_OFFLINE: "1" }, async () => {
    const model = await createModel("cifar_resnet20.cifar10");
    const path = "testdata/images/cat.jpg";
    const x = preprocessImages(
      [await decodeImage(await Deno.readFile(path), path)],
      model.preprocess!,
    );
    const best = tf.argMax(model.predict(x), 1);
    assertEquals(model.labels![(await best.data())[0]], "cat");
    model.dispose();
  });
});

Deno.test("createModel('resnet50', { pretrained: true }) pulls resnet50.tv2_in1k through a mirror, once", async () => {
  // A small torchvision checkpoint stands in for the 100 MB one: served at the real file's
  // mirror path, under the real entry with its hash replaced by the stand-in's.
  const standIn = await Deno.readFile("testdata/fixtures/nets/tv_bottleneck.pth");
  const real = findWeights("resnet50.tv2_in1k");
  const entry = {
    ...real,
    hash: {
      algorithm: "sha256" as const,
      value: createHash("sha256").update(standIn).digest("hex"),
    },
  };
  const registry = REGISTRY.map((e) => e.id === real.id ? entry : e);
  const mirrorPath = "/download.pytorch.org/models/resnet50-11ad3fa6.pth";
  const server = startServer({ [mirrorPath]: { body: standIn } });
  try {
    await withCache({ DENOZOO_MIRROR: server.origin }, async () => {
      const model = await createModel("resnet50", { pretrained: true, registry });
      assertEquals(server.requests.map((r) => r.path), [mirrorPath]);
      assertEquals(model.preprocess, TORCHVISION_V2);
      const expected = await importFile("testdata/fixtures/nets/tv_bottleneck.pth");
      assertEquals(model.spec, expected.spec);
      for (const [name, weight] of expected.weights) {
        assertEquals(Array.from(model.weights.get(name)!.data), Array.from(weight.data), name);
      }
      // Converted once: the same id by its tag, offline, reads the cached zoo file.
      Deno.env.set("DENOZOO_OFFLINE", "1");
      const again = await createModel("resnet50", { pretrained: "tv2_in1k", registry });
      assertEquals(server.requests.length, 1);
      assertEquals(
        Array.from(again.weights.get("fc/kernel")!.data),
        Array.from(model.weights.get("fc/kernel")!.data),
      );
      model.dispose();
      again.dispose();
    });
  } finally {
    await server.close();
  }
});

Deno.test("names resolve as timm's: defaults, tags, ids, fresh architectures; unknown ones get suggestions", async () => {
  await withCache({ DENOZOO_OFFLINE: "1" }, async () => {
    // Offline with an empty cache, the error names the id a name resolved to.
    await assertRejects(
      () => createModel("resnet50", { pretrained: true }),
      Error,
      "resnet50 means resnet50.tv2_in1k (the default weights of resnet50): DENOZOO_OFFLINE is set",
    );
    await assertRejects(
      () => createModel("resnet50", { pretrained: "tv_in1k" }),
      Error,
      "resnet50 means resnet50.tv_in1k",
    );
    await assertRejects(
      () => createModel("resnet50.tv2_in1k"),
      Error,
      "DENOZOO_OFFLINE is set and resnet50-11ad3fa6.pth (resnet50.tv2_in1k) is not in the cache",
    );
    const fresh = await createModel("resnet18", { seed: 1 });
    assertEquals([fresh.spec.name, fresh.preprocess, fresh.labels], [
      "resnet18",
      undefined,
      undefined,
    ]);
    fresh.dispose();
  });
  await assertRejects(
    () => createModel("resnet50.tv3_in1k"),
    Deno.errors.NotFound,
    "no model 'resnet50.tv3_in1k': not a registry id, an architecture, a file or a folder (did you mean resnet50.tv",
  );
  await assertRejects(
    () => createModel("resnet50", { pretrained: "tv3_in1k" }),
    RangeError,
    "no weights 'tv3_in1k' for resnet50; its weights: tv_in1k, tv2_in1k, keras_in1k, keras_in1k_notop",
  );
  await assertRejects(
    () => createModel("resnet50.tv2_in1k", { pretrained: "tv_in1k" }),
    RangeError,
    `'resnet50.tv2_in1k' names its weights already; pretrained: "tv_in1k" goes with an architecture`,
  );
  await assertRejects(
    () => createModel("cifar_resnet110", { pretrained: true }),
    RangeError,
    "no pretrained weights for cifar_resnet110 in the registry",
  );
});

Deno.test("a file by path, with a new head; pretrained: false gives the id's architecture fresh", async () => {
  const file = await createModel("testdata/cifar10-resnet/resnet20-12fca82f.th", { classes: 2 });
  assertEquals(file.spec.classes, 2);
  assertEquals(file.labels, undefined);
  assertEquals(file.preprocess?.size, [32, 32]);
  const fresh = await createModel("cifar_resnet20.cifar10", { pretrained: false, seed: 1 });
  const bundled = await createModel("cifar_resnet20.cifar10");
  const kernel = (m: typeof fresh) => Array.from(m.weights.get("conv1/kernel")!.data);
  assert(kernel(fresh).some((v, i) => v !== kernel(bundled)[i]));
  assertEquals(fresh.labels, undefined);
  for (const m of [file, fresh, bundled]) m.dispose();
});
