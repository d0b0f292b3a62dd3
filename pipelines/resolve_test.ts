import { assert, assertEquals, assertRejects, assertStrictEquals } from "@std/assert";
import {
  type GraphResolution,
  locateModel,
  registryLocation,
  resolveBytes,
  type ResolvedModel,
  resolveModel,
  type ZooResolution,
} from "./resolve.ts";
import { BUNDLED_MODEL_NAME } from "./bundled.ts";
import { NotZooResNetError, ZooFormatError } from "../arch/errors.ts";
import { getSpec } from "../arch/presets.ts";
import { CIFAR10_TORCH } from "../arch/preprocess.ts";
import { cachedPath } from "../hub/cache.ts";
import { findWeights } from "../hub/registry.ts";
import { useBackend } from "../runtime/backend.ts";

const checkpoint = "testdata/cifar10-resnet/resnet20-12fca82f.th";
const keras = "testdata/keras-mlperf-tiny/resnet8_cifar10.h5";

function asZoo(resolved: ResolvedModel): ZooResolution {
  if (resolved.kind !== "zoo") throw new Error(`${resolved.name} resolved to a graph`);
  return resolved;
}

function asGraph(resolved: ResolvedModel): GraphResolution {
  if (resolved.kind !== "graph") throw new Error(`${resolved.name} resolved to a zoo model`);
  return resolved;
}

Deno.test("the bundled model resolves to its zoo file, with what the file records", async () => {
  const resolved = asZoo(await resolveModel());
  assertEquals(resolved.name, BUNDLED_MODEL_NAME);
  assertEquals(resolved.model.format, "zoo-safetensors");
  assertEquals(resolved.model.spec.name, "cifar_resnet20");
  const info = await resolved.info();
  assertEquals(info.labels, "cifar10");
  assertEquals(info.preprocess, CIFAR10_TORCH);
  assertEquals(info.source, "resnet20-12fca82f.th");
});

Deno.test("a foreign ResNet resolves to a zoo model; its provenance comes from the registry, once", async () => {
  const resolved = asZoo(await resolveModel(checkpoint));
  assertEquals(resolved.name, checkpoint);
  assertEquals(resolved.model.format, "pytorch-legacy");
  const info = await resolved.info();
  assertEquals(info.labels, "cifar10");
  assertEquals(info.preprocess, CIFAR10_TORCH);
  assertEquals(info.sourceFormat, "pytorch-legacy");
  assertStrictEquals(resolved.info(), resolved.info());
});

Deno.test("a network that is no zoo ResNet resolves to its own graph, unless an architecture is forced", async () => {
  await useBackend("cpu");
  const bytes = await Deno.readFile(keras);
  const resolved = asGraph(await resolveBytes(bytes, keras));
  assertEquals(resolved.name, keras);
  assert(resolved.reason instanceof NotZooResNetError);
  const graph = await resolved.load();
  assertEquals([graph.layout, graph.classes], ["nhwc", 10]);
  graph.dispose();
  await assertRejects(
    () => resolveBytes(bytes, keras, { arch: getSpec("cifar_resnet20") }),
    NotZooResNetError,
  );
});

Deno.test("a file that is no model at all is an error, not a graph", async () => {
  await assertRejects(
    () => resolveBytes(new TextEncoder().encode("hello"), "notes.txt"),
    ZooFormatError,
    "notes.txt: unrecognised file",
  );
});

Deno.test("a registry id resolves to its converted zoo file in the cache", async () => {
  const home = await Deno.makeTempDir();
  const before = Deno.env.get("DENOZOO_HOME");
  Deno.env.set("DENOZOO_HOME", home);
  try {
    // The upstream file, dropped into the cache by hand: verified, not downloaded. (ResNet-32:
    // ResNet-20's id means the bundled file, see below.)
    const download = cachedPath(findWeights("cifar_resnet32.cifar10"));
    await Deno.mkdir(download.slice(0, download.lastIndexOf("/")), { recursive: true });
    await Deno.copyFile("testdata/cifar10-resnet/resnet32-d509ac18.th", download);
    const resolved = asZoo(await resolveModel("cifar_resnet32.cifar10"));
    assertEquals(resolved.name, "cifar_resnet32.cifar10");
    assertEquals(resolved.model.format, "zoo-safetensors");
    const info = await resolved.info();
    assertEquals([info.labels, info.source], ["cifar10", "resnet32-d509ac18.th"]);
  } finally {
    if (before === undefined) Deno.env.delete("DENOZOO_HOME");
    else Deno.env.set("DENOZOO_HOME", before);
    await Deno.remove(home, { recursive: true });
  }
});

/** Runs `body` with DENOZOO_HOME (and more) set to a fresh, empty cache, then restores them. */
async function withEmptyCache(
  env: Record<string, string>,
  body: (home: string) => Promise<void>,
): Promise<void> {
  const home = await Deno.makeTempDir();
  const all = { DENOZOO_HOME: home, ...env };
  const before = Object.fromEntries(Object.keys(all).map((k) => [k, Deno.env.get(k)]));
  for (const [key, value] of Object.entries(all)) Deno.env.set(key, value);
  try {
    await body(home);
  } finally {
    for (const [key, value] of Object.entries(before)) {
      if (value === undefined) Deno.env.delete(key);
      else Deno.env.set(key, value);
    }
    await Deno.remove(home, { recursive: true });
  }
}

Deno.test("names resolve like timm's: ids, architectures to their default weights, files", async () => {
  assertEquals(registryLocation("resnet50.tv_in1k")?.id, "resnet50.tv_in1k");
  const resnet50 = await locateModel("resnet50");
  assertEquals(resnet50.kind, "registry");
  if (resnet50.kind !== "registry") return;
  assertEquals([resnet50.id, resnet50.architecture], ["resnet50.tv2_in1k", "resnet50"]);
  assertEquals((await locateModel("keras_resnet50")).kind, "registry");
  assertEquals(await locateModel(checkpoint), { kind: "file", path: checkpoint });
  // The bundled id, and its architecture's name, mean the file shipped with the package.
  assertEquals(await locateModel("cifar_resnet20.cifar10"), {
    kind: "bundled",
    id: "cifar_resnet20.cifar10",
  });
  assertEquals((await locateModel("cifar_resnet20")).kind, "bundled");
});

Deno.test("a near miss is refused with the nearest ids and architectures", async () => {
  await assertRejects(
    () => locateModel("resnt50"),
    Deno.errors.NotFound,
    "no model 'resnt50': not a registry id, an architecture, a file or a folder (did you mean resnet50",
  );
  await assertRejects(
    () => locateModel("resnet50.tv3_in1k"),
    Deno.errors.NotFound,
    "did you mean resnet50.tv_in1k, resnet50.tv2_in1k",
  );
  await assertRejects(
    () => locateModel("cifar_resnet110"),
    Deno.errors.NotFound,
    "cifar_resnet110 is an architecture without pretrained weights in the registry",
  );
});

Deno.test("the bundled model's id resolves offline with an empty cache, without a download", async () => {
  await withEmptyCache({ DENOZOO_OFFLINE: "1" }, async () => {
    const resolved = asZoo(await resolveModel("cifar_resnet20.cifar10"));
    assertEquals(resolved.name, BUNDLED_MODEL_NAME);
    assertEquals((await resolved.info()).labels, "cifar10");
  });
});

Deno.test("an architecture offline with an empty cache names the id it means and how to get it", async () => {
  await withEmptyCache({ DENOZOO_OFFLINE: "1" }, async (home) => {
    const error = await assertRejects(() => resolveModel("resnet50"), Error);
    assertEquals(
      error.message,
      "resnet50 means resnet50.tv2_in1k (the default weights of resnet50): DENOZOO_OFFLINE is " +
        "set and resnet50-11ad3fa6.pth (resnet50.tv2_in1k) is not in the cache; get it with " +
        "`denozoo pull resnet50.tv2_in1k` where the network is reachable, or download " +
        `https://download.pytorch.org/models/resnet50-11ad3fa6.pth to ${home}/downloads/resnet50-11ad3fa6.pth`,
    );
  });
});

Deno.test("a folder that convert wrote resolves to its model; any other folder is refused by name", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.mkdir(`${dir}/zoo`);
    await Deno.copyFile(
      "models/cifar_resnet20.safetensors",
      `${dir}/zoo/cifar_resnet20.safetensors`,
    );
    assertEquals(await locateModel(`${dir}/zoo/`), {
      kind: "file",
      path: `${dir}/zoo/cifar_resnet20.safetensors`,
    });
    assertEquals(asZoo(await resolveModel(`${dir}/zoo`)).model.spec.name, "cifar_resnet20");
    await Deno.mkdir(`${dir}/layers`);
    await Deno.writeTextFile(`${dir}/layers/model.json`, "{}");
    await Deno.writeTextFile(`${dir}/layers/group1-shard1of1.bin`, "");
    assertEquals(await locateModel(`${dir}/layers`), {
      kind: "file",
      path: `${dir}/layers/model.json`,
    });
    await Deno.mkdir(`${dir}/empty`);
    await assertRejects(
      () => locateModel(`${dir}/empty`),
      Deno.errors.NotFound,
      `${dir}/empty is a folder without a model.json or a .safetensors file`,
    );
    await Deno.copyFile("models/cifar_resnet20.safetensors", `${dir}/zoo/second.safetensors`);
    await assertRejects(
      () => locateModel(`${dir}/zoo`),
      Deno.errors.NotFound,
      "holds several models (cifar_resnet20.safetensors, second.safetensors)",
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
