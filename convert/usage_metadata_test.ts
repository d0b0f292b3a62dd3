import { assertEquals, assertThrows } from "@std/assert";
import onnxProto from "onnx-proto";
import { onnxUsage, readUsageMetadata, usageMetadata } from "./usage_metadata.ts";
import { readOnnx } from "../formats/onnx.ts";
import { ZooFormatError } from "../arch/errors.ts";
import { PREPROCESS_PRESETS } from "../arch/preprocess.ts";

const NAMES = ["kitty", "doggo", "birdie"];

Deno.test("usage metadata reads back what it writes, and records nothing when given nothing", () => {
  const preprocess = PREPROCESS_PRESETS.CIFAR10_TORCH;
  const names = usageMetadata({ preprocess, labels: NAMES }, 3, "m");
  assertEquals(Object.keys(names), ["denozoo.preprocess", "denozoo.class_names"]);
  assertEquals(readUsageMetadata(names, 3, "m"), { preprocess, labels: NAMES });
  const set = usageMetadata({ labels: "cifar10" }, 10, "m");
  assertEquals(set, { "denozoo.labels": "cifar10" });
  assertEquals(readUsageMetadata(set, 10, "m"), { labels: "cifar10" });
  assertEquals(usageMetadata({}, 10, "m"), {});
  assertEquals(readUsageMetadata({ other: "x" }, 10, "m"), {});
  assertThrows(
    () => usageMetadata({ labels: NAMES }, 10, "cifar_resnet20"),
    RangeError,
    "3 class names for cifar_resnet20, which has 10 classes",
  );
});

Deno.test("a bad value is one ZooFormatError naming the file and the key", () => {
  const cases: [Record<string, string>, string][] = [
    [{ "denozoo.class_names": JSON.stringify(NAMES) }, "3 names, but the model has 10 classes"],
    [{ "denozoo.class_names": "[1, 2]" }, "must be a JSON array of non-empty strings"],
    [{ "denozoo.class_names": "kitty" }, "invalid JSON"],
    [{ "denozoo.labels": "cifar100" }, "must be one of imagenet, imagenet_background, cifar10"],
    [{ "denozoo.preprocess": '{"mode": "torch", "crop": -1}' }, "field 'crop' must be"],
    [{ "denozoo.preprocess": '{"mode": "bgr"}' }, "field 'mode' must be one of"],
  ];
  for (const [strings, message] of cases) {
    const key = Object.keys(strings)[0];
    const error = assertThrows(() => readUsageMetadata(strings, 10, "m.onnx"), ZooFormatError);
    assertEquals(error.message.split("\n").length, 1);
    assertEquals(error.message.startsWith(`m.onnx: metadata '${key}': `), true, error.message);
    assertEquals(error.message.includes(message), true, error.message);
  }
  assertThrows(
    () => readUsageMetadata({ "denozoo.labels": "cifar10", "denozoo.class_names": "[]" }, 10, "m"),
    ZooFormatError,
    "both 'denozoo.labels' and 'denozoo.class_names'",
  );
});

Deno.test("onnxUsage reads metadata_props: the zoo's keys only, each once", async () => {
  const path = "testdata/fixtures/nets/tv_basic.onnx";
  const { onnx } = onnxProto;
  const proto = onnx.ModelProto.decode(await Deno.readFile(path));
  const withProps = async (props: [string, string][]) => {
    proto.metadataProps = props.map(([key, value]) =>
      onnx.StringStringEntryProto.create({ key, value })
    );
    return await readOnnx(onnx.ModelProto.encode(proto).finish(), path);
  };
  assertEquals(onnxUsage(await readOnnx(await Deno.readFile(path), path), 10, path), {});
  const model = await withProps([["author", "someone"], ["denozoo.labels", "cifar10"]]);
  assertEquals(onnxUsage(model, 10, path), { labels: "cifar10" });
  const twice = await withProps([["denozoo.labels", "cifar10"], ["denozoo.labels", "imagenet"]]);
  assertThrows(
    () => onnxUsage(twice, 10, path),
    ZooFormatError,
    `${path}: metadata 'denozoo.labels' is listed twice in metadata_props`,
  );
});
