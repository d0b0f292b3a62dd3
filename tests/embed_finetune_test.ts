import { assert, assertEquals, assertStringIncludes } from "@std/assert";
import { readNpy } from "../formats/npy.ts";
import {
  animalOrVehicle,
  imageName,
  writeCifarImages as writeCifar,
} from "../tools/cifar_image_folder.ts";
import { type CliResult, npy, relativeError, runCli } from "./helpers.ts";

const here = (path: string) => new URL(path, import.meta.url).pathname;

const cli = (...args: string[]): Promise<CliResult> => runCli(args, { DENOZOO_OFFLINE: "1" });

const kind = animalOrVehicle;
const name = imageName;

Deno.test("embed on the 1000 CIFAR-10 test images writes [1000, 64] equal to torch's pooled features", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await writeCifar(dir, (i) => `images/${name(i)}`);
    const out = `${dir}/feats.npy`;
    const result = await cli("embed", `${dir}/images`, "--out", out, "--batch", "250");
    assertEquals(result.code, 0, result.stderr);
    assertStringIncludes(result.stdout, `wrote ${out} [1000, 64] and ${dir}/feats.files.txt`);
    const features = readNpy(await Deno.readFile(out), out);
    assertEquals(features.shape, [1000, 64]);
    const torch = await npy(here("../testdata/fixtures/features/resnet20_pooled.npy"));
    const error = relativeError(features.data as Float32Array, torch.data);
    assert(error < 1e-4, `relative error ${error}`);
    const files = (await Deno.readTextFile(`${dir}/feats.files.txt`)).trimEnd().split("\n");
    assertEquals(files, Array.from({ length: 1000 }, (_, i) => `${dir}/images/${name(i)}.png`));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("embed skips a bad image, names it on stderr, writes the rest and exits 1", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const cat = await Deno.readFile(here("../testdata/images/cat.jpg"));
    await Deno.writeFile(`${dir}/a.jpg`, cat);
    await Deno.writeFile(`${dir}/b.jpg`, cat.subarray(0, 3000));
    await Deno.copyFile(here("../testdata/images/grace_hopper.jpg"), `${dir}/c.jpg`);
    const result = await cli("embed", dir, "--out", `${dir}/feats.npy`);
    assertEquals(result.code, 1);
    assertStringIncludes(result.stderr, `denozoo: skipped ${dir}/b.jpg: invalid JPEG`);
    assertStringIncludes(result.stderr, "1 of 3 images could not be embedded (named above)");
    assertEquals(readNpy(await Deno.readFile(`${dir}/feats.npy`), "f").shape, [2, 64]);
    assertEquals(await Deno.readTextFile(`${dir}/feats.files.txt`), `${dir}/a.jpg\n${dir}/c.jpg\n`);
    // Nothing embedded: the features of the run before stay as they were.
    const before = await Deno.readFile(`${dir}/feats.npy`);
    const none = await cli("embed", `${dir}/b.jpg`, "--out", `${dir}/feats.npy`);
    assertEquals(none.code, 1);
    assertStringIncludes(
      none.stderr,
      "none of the 1 images could be embedded (named above); nothing written",
    );
    assertEquals(await Deno.readFile(`${dir}/feats.npy`), before);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("finetune on animal vs vehicle (first 500 images): ≥ 95 % on the other 500, with the new class names; the file converts to ONNX", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await writeCifar(
      dir,
      (i, label) => `${i < 500 ? "train" : "test"}/${kind(label)}/${name(i)}`,
    );
    const model = `${dir}/mine.safetensors`;
    const trained = await cli("finetune", `${dir}/train`, "--out", model, "--seed", "1");
    assertEquals(trained.code, 0, trained.stderr);
    assertStringIncludes(trained.stdout, "epoch  1/30  train loss");
    assertStringIncludes(
      trained.stdout,
      "classes: animal (289), vehicle (211); 400 images trained on, 100 validated on",
    );
    assertStringIncludes(
      trained.stdout,
      `wrote ${model}: cifar_resnet20 with a new classifier for 2 classes`,
    );
    const classified = await cli(
      "classify",
      `${dir}/test`,
      "--model",
      model,
      "--json-array",
      "--top",
      "1",
      "--batch",
      "250",
    );
    assertEquals(classified.code, 0, classified.stderr);
    const results: { image: string; predictions: { label: string }[] }[] = JSON.parse(
      classified.stdout,
    );
    assertEquals(results.length, 500);
    // Each image's folder is its true class.
    const right = results.filter((r) => r.image.includes(`/test/${r.predictions[0].label}/`));
    assert(right.length >= 475, `${right.length} of 500 right`);
    const onnx = await cli("convert", model, "--out", `${dir}/mine.onnx`);
    assertEquals(onnx.code, 0, onnx.stderr);
    assertStringIncludes(onnx.stdout, "architecture:  cifar_resnet20");
    // The export keeps the new class names: the same image gets the same name from it.
    const again = await cli(
      "classify",
      results[0].image,
      "--model",
      `${dir}/mine.onnx`,
      "--json",
      "--top",
      "1",
    );
    assertEquals(again.code, 0, again.stderr);
    assertEquals(
      JSON.parse(again.stdout).predictions[0].label,
      results[0].predictions[0].label,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("finetune refuses one class and an empty class, and leaves out a bad image with a message", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await writeCifar(dir, (i, label) => i < 24 ? `data/${kind(label)}/${name(i)}` : null);
    await Deno.mkdir(`${dir}/one/cats`, { recursive: true });
    await Deno.copyFile(here("../testdata/images/cat.jpg"), `${dir}/one/cats/cat.jpg`);
    const one = await cli("finetune", `${dir}/one`, "--out", `${dir}/x.safetensors`);
    assertEquals(one.code, 1);
    assertEquals(
      one.stderr.trim(),
      `denozoo: ${dir}/one: only one class folder ('cats'); a classifier needs at least two`,
    );
    await Deno.mkdir(`${dir}/data/empty`);
    const empty = await cli("finetune", `${dir}/data`, "--out", `${dir}/x.safetensors`);
    assertEquals(empty.code, 1);
    assertEquals(
      empty.stderr.trim(),
      `denozoo: ${dir}/data/empty: class 'empty' has no images (.jpg, .jpeg, .png, .gif or .webp)`,
    );
    await Deno.remove(`${dir}/data/empty`);
    await Deno.writeFile(`${dir}/data/animal/broken.png`, new TextEncoder().encode("not a png"));
    const bad = await cli(
      "finetune",
      `${dir}/data`,
      "--out",
      `${dir}/x.safetensors`,
      "--epochs",
      "2",
    );
    assertEquals(bad.code, 0, bad.stderr);
    assertStringIncludes(
      bad.stderr,
      `denozoo: skipped ${dir}/data/animal/broken.png: not a JPEG, PNG, GIF, WebP, AVIF or TIFF image`,
    );
    assertStringIncludes(bad.stdout, "(1 images skipped)");
    const none = await cli("finetune", `${dir}/missing`, "--out", `${dir}/x.safetensors`);
    assertEquals(none.code, 1);
    assertStringIncludes(none.stderr, "missing");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("finetune --unfreeze trains the last stage on cpu and is refused on wasm, saying why", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await writeCifar(dir, (i, label) => i < 6 ? `data/${kind(label)}/${name(i)}` : null);
    const out = `${dir}/x.safetensors`;
    const wasm = await cli(
      "finetune",
      `${dir}/data`,
      "--out",
      out,
      "--unfreeze",
      "1",
      "--backend",
      "wasm",
    );
    assertEquals(wasm.code, 1);
    assertEquals(
      wasm.stderr.trim(),
      "denozoo: --unfreeze: backend 'wasm' cannot train a ResNet: it has no kernel " +
        "'Conv2DBackpropFilter' (the gradient of a convolution's filter); train on 'cpu', or 'webgpu' on a GPU",
    );
    const cpu = await cli(
      "finetune",
      `${dir}/data`,
      "--out",
      out,
      "--unfreeze",
      "1",
      "--unfreeze-epochs",
      "1",
      "--epochs",
      "2",
      "--val",
      "0",
    );
    assertEquals(cpu.code, 0, cpu.stderr);
    assertStringIncludes(cpu.stdout, "stages 1/1  train loss");
    const classified = await cli("classify", `${dir}/data`, "--model", out, "--top", "1");
    assertEquals(classified.code, 0, classified.stderr);
    assert(/1\. (animal|vehicle) /.test(classified.stdout));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
