import { assert, assertEquals, assertRejects, assertStrictEquals } from "@std/assert";
import {
  type GraphResolution,
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
    // The upstream file, dropped into the cache by hand: verified, not downloaded.
    const download = cachedPath(findWeights("cifar_resnet20.cifar10"));
    await Deno.mkdir(download.slice(0, download.lastIndexOf("/")), { recursive: true });
    await Deno.copyFile(checkpoint, download);
    const resolved = asZoo(await resolveModel("cifar_resnet20.cifar10"));
    assertEquals(resolved.name, "cifar_resnet20.cifar10");
    assertEquals(resolved.model.format, "zoo-safetensors");
    const info = await resolved.info();
    assertEquals([info.labels, info.source], ["cifar10", "resnet20-12fca82f.th"]);
  } finally {
    if (before === undefined) Deno.env.delete("DENOZOO_HOME");
    else Deno.env.set("DENOZOO_HOME", before);
    await Deno.remove(home, { recursive: true });
  }
});
