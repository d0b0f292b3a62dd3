import { assertEquals } from "@std/assert";
import onnxProto from "onnx-proto";
import { loadClassifier } from "./load.ts";
import { labelsFor } from "../arch/labels.ts";
import { PREPROCESS_PRESETS } from "../arch/preprocess.ts";
import { useBackend } from "../runtime/backend.ts";
import { ortAvailable } from "../runtime/ort.ts";

await useBackend("cpu");
const noOrt = !(await ortAvailable());

Deno.test({
  name: "an ONNX graph's recorded preprocessing and names are used unless the caller gives others",
  ignore: noOrt,
  fn: async () => {
    const dir = await Deno.makeTempDir();
    try {
      const { onnx } = onnxProto;
      const proto = onnx.ModelProto.decode(
        await Deno.readFile("testdata/fixtures/onnx_ops/view_op9.onnx"),
      );
      const names = Array.from({ length: 10 }, (_, i) => `class ${i}`);
      const preprocess = { size: [16, 16] as [number, number], mode: "tf" as const };
      proto.metadataProps = [
        onnx.StringStringEntryProto.create({
          key: "denozoo.class_names",
          value: JSON.stringify(names),
        }),
        onnx.StringStringEntryProto.create({
          key: "denozoo.preprocess",
          value: JSON.stringify(preprocess),
        }),
      ];
      const path = `${dir}/mine.onnx`;
      await Deno.writeFile(path, onnx.ModelProto.encode(proto).finish());
      for (const engine of ["tfjs", "onnxruntime"] as const) {
        const recorded = await loadClassifier(path, { engine });
        assertEquals([recorded.labels, recorded.preprocess], [names, preprocess], engine);
        await recorded.engine.dispose();
        const given = await loadClassifier(path, {
          engine,
          labels: "cifar10",
          preprocess: PREPROCESS_PRESETS.CIFAR10_TORCH,
        });
        assertEquals(given.labels, labelsFor("cifar10"), engine);
        assertEquals(given.preprocess, PREPROCESS_PRESETS.CIFAR10_TORCH, engine);
        await given.engine.dispose();
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
