import { assert, assertEquals, assertThrows } from "@std/assert";
import { quantizedNodes } from "./quantize.ts";
import { cifar10Labels } from "../arch/labels.ts";
import { readZooHeader, readZooWeights, writeZooWeights } from "./zoofile.ts";
import { getSpec, PRESETS } from "../arch/presets.ts";
import { planResNet } from "../arch/plan.ts";
import { initialWeights } from "../arch/weights.ts";
import { PREPROCESS_PRESETS } from "../arch/preprocess.ts";
import { ZooFormatError } from "../arch/errors.ts";
import { readSafetensors, writeSafetensors } from "../formats/safetensors.ts";

const cifar = getSpec("cifar_resnet20");
const weights = initialWeights(planResNet(cifar));

/** A zoo file whose metadata `change` has edited. */
function edited(change: (metadata: Record<string, string>) => void): Uint8Array {
  const file = readSafetensors(writeZooWeights(cifar, weights, { labels: "cifar10" }), "m");
  const metadata = { ...file.metadata };
  change(metadata);
  return writeSafetensors(file.tensors, metadata);
}

/** The same file with one field of its spec changed. */
function withSpec(change: (spec: Record<string, unknown>) => void): Uint8Array {
  return edited((metadata) => {
    const spec = JSON.parse(metadata["denozoo.spec"]);
    change(spec);
    metadata["denozoo.spec"] = JSON.stringify(spec);
  });
}

Deno.test("every preset spec and preprocessing preset survives a write and a read", async () => {
  const path = await Deno.makeTempFile({ suffix: ".safetensors" });
  try {
    for (const spec of Object.values(PRESETS)) {
      for (const preprocess of Object.values(PREPROCESS_PRESETS)) {
        // No tensors: the header alone carries the metadata.
        await Deno.writeFile(
          path,
          writeZooWeights(spec, new Map(), { preprocess, labels: "imagenet" }),
        );
        const header = await readZooHeader(path);
        assertEquals(header.spec, spec);
        assertEquals(header.preprocess, preprocess);
        assertEquals(header.labels, "imagenet");
      }
    }
  } finally {
    await Deno.remove(path);
  }
  const read = readZooWeights(
    writeZooWeights(cifar, weights, {
      preprocess: PREPROCESS_PRESETS.CIFAR10_TORCH,
      labels: "cifar10",
    }),
    "m.safetensors",
  );
  assertEquals(read.spec, cifar);
  assertEquals(read.preprocess, PREPROCESS_PRESETS.CIFAR10_TORCH);
  assertEquals(read.labels, "cifar10");
  // A file written before `interpolation` existed still reads, without it: bilinear.
  const older = { resize: 256, crop: 224, mode: "torch" };
  const old = edited((m) => (m["denozoo.preprocess"] = JSON.stringify(older)));
  assertEquals(readZooWeights(old, "old.safetensors").preprocess, older);
});

Deno.test("an unknown or corrupt spec field is refused, naming the file and the field", () => {
  const cases: [Uint8Array, string][] = [
    [withSpec((s) => (s.block = "triangle")), "field 'block' must be one of basic, bottleneck"],
    [withSpec((s) => (s.dilation = 2)), "unknown field 'dilation'"],
    [withSpec((s) => delete s.stemWidth), "field 'stemWidth' is missing"],
    [withSpec((s) => (s.depths = [3, -1, 3])), "field 'depths' must be a non-empty list"],
    [withSpec((s) => (s.classes = 2.5)), "field 'classes' must be an integer of at least 0"],
    [
      withSpec((s) => ((s.naming as Record<string, unknown>).conv = 7)),
      "field 'naming.conv' must be a string, got 7",
    ],
    [
      withSpec((s) => ((s.naming as Record<string, unknown>).extra = "x")),
      "unknown field 'naming.extra'",
    ],
    [withSpec((s) => (s.widths = [16, 32])), "one entry per stage"],
    [edited((m) => (m["denozoo.spec"] = "{not json")), "metadata 'denozoo.spec': invalid JSON"],
  ];
  for (const [bytes, message] of cases) {
    const error = assertThrows(() => readZooWeights(bytes, "bad.safetensors"), ZooFormatError);
    assertEquals(error.file, "bad.safetensors");
    assertEquals(error.message.startsWith("bad.safetensors: metadata 'denozoo."), true);
    assertEquals(error.message.includes(message), true, error.message);
  }
});

Deno.test("preprocessing and labels are checked on read, in the header alone too", async () => {
  const cases: [Uint8Array, string][] = [
    [
      edited((m) => (m["denozoo.preprocess"] = JSON.stringify({ mode: "sepia" }))),
      "metadata 'denozoo.preprocess': field 'mode' must be one of torch, caffe, tf, raw",
    ],
    [
      edited((m) => (m["denozoo.preprocess"] = JSON.stringify({ mode: "tf", gamma: 2 }))),
      "metadata 'denozoo.preprocess': unknown field 'gamma'",
    ],
    [
      edited((m) => (m["denozoo.preprocess"] = JSON.stringify({ mode: "tf", mean: [1, 2] }))),
      "field 'mean' must be a list of 3 numbers",
    ],
    [
      edited((m) =>
        m["denozoo.preprocess"] = JSON.stringify({ mode: "raw", size: [32, 32], resize: 40 })
      ),
      "fields 'size' and 'resize' exclude each other",
    ],
    [
      edited((m) =>
        m["denozoo.preprocess"] = JSON.stringify({ mode: "torch", interpolation: "lanczos" })
      ),
      "field 'interpolation' must be one of bilinear, bicubic",
    ],
    [
      edited((m) => (m["denozoo.labels"] = "coco")),
      `metadata 'denozoo.labels': must be one of imagenet, imagenet_background, cifar10, got "coco"`,
    ],
  ];
  const path = await Deno.makeTempFile({ suffix: ".safetensors" });
  try {
    for (const [bytes, message] of cases) {
      const error = assertThrows(() => readZooWeights(bytes, "bad.safetensors"), ZooFormatError);
      assertEquals(error.message.includes(message), true, error.message);
      await Deno.writeFile(path, bytes);
      const fromHeader = await readZooHeader(path).then(() => undefined, (e: Error) => e);
      assertEquals(fromHeader instanceof ZooFormatError, true);
      assertEquals(
        fromHeader!.message,
        `${path}: ${error.message.slice("bad.safetensors: ".length)}`,
      );
    }
  } finally {
    await Deno.remove(path);
  }
});

Deno.test("a file without the zoo's metadata is told to be converted", () => {
  const plain = writeSafetensors([], { format: "pt" });
  assertThrows(
    () => readZooWeights(plain, "plain.safetensors"),
    ZooFormatError,
    "plain.safetensors: safetensors file without denozoo metadata",
  );
});

const calibration = {
  method: "minmax" as const,
  images: 2,
  sha256: "ab".repeat(32),
  ranges: quantizedNodes(planResNet(cifar)).map((node) => ({ node, min: -1, max: node + 1 })),
};

Deno.test("float16 and int8 files: half and a quarter the size, weights read back as float32", async () => {
  const trained = initialWeights(planResNet(cifar), 7);
  const full = writeZooWeights(cifar, trained, { labels: "cifar10" });
  const half = writeZooWeights(cifar, trained, { labels: "cifar10", dtype: "float16" });
  const int8 = writeZooWeights(cifar, trained, { labels: "cifar10", dtype: "int8", calibration });
  assert(half.length / full.length > 0.49 && half.length / full.length < 0.51);
  assert(int8.length / full.length > 0.25 && int8.length / full.length < 0.28);
  const fromHalf = readZooWeights(half, "h.safetensors");
  assertEquals([fromHalf.dtype, fromHalf.calibration], ["float16", undefined]);
  for (const [name, w] of trained) {
    const back = fromHalf.weights.get(name)!.data;
    // Half precision keeps 11 significant bits: within 2^-11 relative, or a subnormal step.
    w.data.forEach((v, i) =>
      assert(Math.abs(back[i] - v) <= Math.abs(v) * 2 ** -11 + 2 ** -24, `${name}[${i}]`)
    );
  }
  const fromInt8 = readZooWeights(int8, "q.safetensors");
  assertEquals([fromInt8.dtype, fromInt8.calibration], ["int8", calibration]);
  assertEquals(fromInt8.weights.get("bn1/moving_mean"), trained.get("bn1/moving_mean"));
  const path = await Deno.makeTempFile({ suffix: ".safetensors" });
  await Deno.writeFile(path, int8);
  assertEquals((await readZooHeader(path)).calibration?.images, 2);
  await Deno.remove(path);
  assertThrows(
    () => writeZooWeights(cifar, trained, { dtype: "float16", calibration }),
    RangeError,
    "calibration ranges belong to int8 weights only",
  );
});

Deno.test("precision and calibration metadata are checked on read", () => {
  const int8 = (change: (metadata: Record<string, string>) => void) => {
    const file = readSafetensors(
      writeZooWeights(cifar, weights, { dtype: "int8", calibration }),
      "m",
    );
    const metadata = { ...file.metadata };
    change(metadata);
    return writeSafetensors(file.tensors, metadata);
  };
  const cases: [Uint8Array, string][] = [
    [
      edited((m) => m["denozoo.dtype"] = "int4"),
      "metadata 'denozoo.dtype': must be one of float32, float16, int8, got \"int4\"",
    ],
    [
      edited((m) => m["denozoo.calibration"] = "{}"),
      "metadata 'denozoo.calibration' belongs to int8 files only",
    ],
    [
      int8((m) => m["denozoo.calibration"] = m["denozoo.calibration"].replace("minmax", "kl")),
      "metadata 'denozoo.calibration': field 'method' must be one of minmax, got \"kl\"",
    ],
    [
      int8((m) =>
        m["denozoo.calibration"] = m["denozoo.calibration"].replace("[0,-1,1]", "[0,2,1]")
      ),
      "field 'ranges' must be a non-empty list of [node, min, max] with min ≤ max",
    ],
    [
      int8((m) => m["denozoo.calibration"] = m["denozoo.calibration"].replace("[0,-1,1],", "")),
      "metadata 'denozoo.calibration': ranges for nodes [3,",
    ],
  ];
  for (const [bytes, message] of cases) {
    assertThrows(() => readZooWeights(bytes, "bad.safetensors"), ZooFormatError, message);
  }
});

Deno.test("a zoo file carries its own class names, validated against its classes on read", async () => {
  const names = cifar10Labels.map((name) => name.toUpperCase());
  const bytes = writeZooWeights(cifar, weights, { labels: names });
  assertEquals(
    readSafetensors(bytes, "m").metadata?.["denozoo.class_names"],
    JSON.stringify(names),
  );
  assertEquals(readZooWeights(bytes, "m.safetensors").labels, names);
  const path = await Deno.makeTempFile({ suffix: ".safetensors" });
  try {
    await Deno.writeFile(path, bytes);
    assertEquals((await readZooHeader(path)).labels, names);
  } finally {
    await Deno.remove(path);
  }
  assertThrows(
    () => writeZooWeights(cifar, weights, { labels: ["cat", "dog"] }),
    RangeError,
    "2 class names for cifar_resnet20, which has 10 classes",
  );
  const cases: [Uint8Array, string][] = [
    [
      edited((m) => m["denozoo.class_names"] = JSON.stringify(["cat", "dog"])),
      "metadata has both 'denozoo.labels' and 'denozoo.class_names'",
    ],
    [
      edited((m) => {
        delete m["denozoo.labels"];
        m["denozoo.class_names"] = JSON.stringify(["cat", "dog"]);
      }),
      "metadata 'denozoo.class_names': 2 names, but the model has 10 classes",
    ],
    [
      edited((m) => {
        delete m["denozoo.labels"];
        m["denozoo.class_names"] = JSON.stringify({ 0: "cat" });
      }),
      "metadata 'denozoo.class_names': must be a JSON array of non-empty strings",
    ],
  ];
  for (const [broken, message] of cases) {
    assertThrows(() => readZooWeights(broken, "bad.safetensors"), ZooFormatError, message);
  }
});
