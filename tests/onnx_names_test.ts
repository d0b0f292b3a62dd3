/**
 * An ONNX file the zoo writes keeps the model's class names and preprocessing (in its
 * `metadata_props`), so `classify` prints a fine-tuned model's own names from the ONNX export as
 * from the zoo file, on every engine; a third-party ONNX file without them prints what it did
 * before. Each case is a real `deno run cli.ts` in a subprocess.
 */

import { assertEquals } from "@std/assert";
import onnxProto from "onnx-proto";
import { type CliResult, runCli, tableRows } from "./helpers.ts";

const root = new URL("../", import.meta.url).pathname;
const CAT = "testdata/images/cat.jpg";
const NAMES = [
  "plane",
  "car",
  "birdie",
  "kitty",
  "deer",
  "doggo",
  "frog",
  "horse",
  "ship",
  "truck",
];

const cli = (...args: string[]): Promise<CliResult> =>
  runCli(args, { DENOZOO_OFFLINE: "1", DENOZOO_HOME: "/nonexistent/denozoo" }, { cwd: root });

/** The labels of classify's table rows: `  1. cat  100.00%  [3]`. */
function labels(result: CliResult): string[] {
  assertEquals(result.code, 0, result.stderr);
  return tableRows(result.stdout).map((row) => row.label);
}

/** classify's best label for the cat on each engine (and tfjs on the cpu backend). */
async function bestOnEachEngine(model: string, ...more: string[]): Promise<string[]> {
  const runs = [[], ["--engine", "onnxruntime"], ["--engine", "tfjs", "--backend", "cpu"]];
  const best: string[] = [];
  for (const engine of runs) {
    best.push(
      labels(await cli("classify", CAT, "--model", model, "--top", "1", ...engine, ...more))[0],
    );
  }
  return best;
}

Deno.test("convert --labels to a zoo file, then to ONNX: classify prints the names from the .onnx on every engine", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/names.txt`, NAMES.join("\n") + "\n");
    const zoo = await cli(
      "convert",
      "cifar_resnet20.cifar10",
      "--out",
      `${dir}/x.safetensors`,
      "--labels",
      `${dir}/names.txt`,
    );
    assertEquals(zoo.code, 0, zoo.stderr);
    const onnx = await cli("convert", `${dir}/x.safetensors`, "--out", `${dir}/x.onnx`);
    assertEquals(onnx.code, 0, onnx.stderr);
    assertEquals(await bestOnEachEngine(`${dir}/x.onnx`), ["kitty", "kitty", "kitty"]);
    // The user's --labels still come first.
    assertEquals(await bestOnEachEngine(`${dir}/x.onnx`, "--labels", "cifar10"), [
      "cat",
      "cat",
      "cat",
    ]);
    // And back: the zoo file converted from the ONNX export keeps them too.
    const back = await cli("convert", `${dir}/x.onnx`, "--out", `${dir}/y.safetensors`);
    assertEquals(back.code, 0, back.stderr);
    assertEquals(
      labels(await cli("classify", CAT, "--model", `${dir}/y.safetensors`, "--top", "1")),
      ["kitty"],
    );
    // --labels goes into an ONNX export directly as well.
    const direct = await cli(
      "convert",
      "cifar_resnet20.cifar10",
      "--out",
      `${dir}/d.onnx`,
      "--labels",
      `${dir}/names.txt`,
    );
    assertEquals(direct.code, 0, direct.stderr);
    assertEquals(labels(await cli("classify", CAT, "--model", `${dir}/d.onnx`, "--top", "1")), [
      "kitty",
    ]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("third-party ONNX files without metadata_props print what they did before", async () => {
  // Outputs of the code before ONNX files recorded names: the CIFAR-10 set by count.
  const cases: [string, string[]][] = [
    ["testdata/fixtures/nets/tv_basic.onnx", ["deer", "cat", "ship"]],
    ["testdata/fixtures/onnx_ops/view_op9.onnx", ["horse", "dog", "deer"]],
  ];
  for (const [model, expected] of cases) {
    for (const engine of ["tfjs", "onnxruntime"]) {
      const result = await cli("classify", CAT, "--model", model, "--engine", engine, "--top", "3");
      assertEquals(labels(result), expected, `${model} on ${engine}`);
    }
  }
});

/** A copy of an ONNX file with these `metadata_props`. */
async function withProps(from: string, to: string, props: Record<string, string>): Promise<void> {
  const { onnx } = onnxProto;
  const model = onnx.ModelProto.decode(await Deno.readFile(`${root}${from}`));
  model.metadataProps = Object.entries(props).map(([key, value]) =>
    onnx.StringStringEntryProto.create({ key, value })
  );
  await Deno.writeFile(to, onnx.ModelProto.encode(model).finish());
}

Deno.test("an ONNX graph of its own prints the names it records on tfjs and onnxruntime; a bad value is one line", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const graph = `${dir}/graph.onnx`;
    await withProps("testdata/fixtures/onnx_ops/view_op9.onnx", graph, {
      "denozoo.class_names": JSON.stringify(NAMES),
    });
    for (const engine of ["tfjs", "onnxruntime"]) {
      const result = await cli("classify", CAT, "--model", graph, "--engine", engine, "--top", "3");
      assertEquals(labels(result), ["horse", "doggo", "deer"], engine);
    }
    const bad = `${dir}/bad.onnx`;
    await withProps("testdata/fixtures/onnx_ops/view_op9.onnx", bad, {
      "denozoo.class_names": '["kitty", "doggo"]',
    });
    const refused = await cli("classify", CAT, "--model", bad);
    assertEquals(refused.code, 1);
    assertEquals(refused.stderr.trimEnd().split("\n").slice(-1), [
      `denozoo: ${bad}: metadata 'denozoo.class_names': 2 names, but the model has 10 classes`,
    ]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
