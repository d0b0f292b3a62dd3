import * as tf from "@tensorflow/tfjs-core";
import * as tfl from "@tensorflow/tfjs-layers";
import { assertEquals } from "@std/assert";
import { createModel } from "./model.ts";
import { useBackend } from "./backend.ts";
import { getSpec } from "../arch/presets.ts";

await useBackend("wasm");

Deno.test("layersModel.save('file://…') writes model.json + weights.bin; loadLayersModel reads them back", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const model = createModel({ ...getSpec("cifar_resnet20"), depths: [1, 1, 1] }, { seed: 2 });
    const result = await model.layersModel.save(`file://${dir}/r8`);
    assertEquals(result.modelArtifactsInfo.modelTopologyType, "JSON");
    const json = JSON.parse(await Deno.readTextFile(`${dir}/r8/model.json`));
    assertEquals(json.weightsManifest[0].paths, ["./weights.bin"]);
    const names = json.weightsManifest[0].weights.map((w: { name: string }) => w.name);
    assertEquals(names.includes("layer3.0.bn2/moving_variance"), true);
    const bytes = (await Deno.stat(`${dir}/r8/weights.bin`)).size;
    assertEquals(bytes, 4 * model.layersModel.countParams());
    for (const url of [`file://${dir}/r8/model.json`, `file://${dir}/r8`]) {
      const reloaded = await tfl.loadLayersModel(url);
      const x = tf.randomNormal([2, 32, 32, 3], 0, 1, "float32", 5);
      const a = await (model.layersModel.predict(x) as tf.Tensor).data();
      const b = await (reloaded.predict(x) as tf.Tensor).data();
      assertEquals(Array.from(b), Array.from(a));
      reloaded.dispose();
    }
    model.dispose();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
