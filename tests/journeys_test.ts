/**
 * The journey matrix: every command a user runs on a model (`predict`, `classify`, `bench`,
 * `convert --verify`) × every engine that exists here (onnxruntime, tfjs on wasm, cpu, and
 * WebGPU on Mesa's software adapter) × every kind of model (the bundled zoo file by its id, a
 * registry id downloaded from a loopback mirror, a Keras graph — MLPerf Tiny's ResNet-8 — and
 * an ONNX graph), through the real command line, asserting what a user reads: labels,
 * probabilities (against `predict` of the same input on the same engine), exit codes, the
 * one-line refusals of the combinations that do not apply, and that nothing is written when a
 * command refuses.
 *
 * Each engine's column runs in one warm CLI process (`journey_runner.ts`: `cli/main.ts`'s
 * `main` per command line, stdout and stderr split per command), the four side by side, so
 * that Deno, tfjs and the WebGPU shaders start once per engine; inputs are one image. The
 * exit codes and messages of a cold `deno run cli.ts` are tested in `cli_usage_test.ts`.
 *
 * `convert --verify` has no onnxruntime column: onnxruntime is what it verifies against, on
 * the source; its columns are the tfjs backends that run the converted model.
 */

import { assert, assertEquals, assertStringIncludes } from "@std/assert";
import * as tf from "@tensorflow/tfjs-core";
import { useBackend } from "../runtime/backend.ts";
import { decodeImage } from "../vision/decode.ts";
import { preprocessImages } from "../vision/preprocess.ts";
import { readNpy, writeNpy } from "../formats/npy.ts";
import { CIFAR10_RAW, CIFAR10_TORCH, type PreprocessSpec } from "../arch/preprocess.ts";
import { graphPreprocess } from "../arch/defaults.ts";
import { cifar10Labels } from "../arch/labels.ts";
import { startServer } from "./http_fixture.ts";
import { relativeError, tableRows } from "./helpers.ts";

const root = new URL("../", import.meta.url).pathname;

// --- The warm CLI processes -------------------------------------------------------------------

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Splits a stream at the runner's `\u0001END <code>` lines: one section per command. */
function sections(
  stream: ReadableStream<Uint8Array>,
): () => Promise<{ text: string; code: number }> {
  const decoder = new TextDecoder();
  const ready: { text: string; code: number }[] = [];
  const waiting: ((section: { text: string; code: number }) => void)[] = [];
  const deliver = (section: { text: string; code: number }) => {
    const waiter = waiting.shift();
    if (waiter) waiter(section);
    else ready.push(section);
  };
  let buffer = "";
  (async () => {
    for await (const chunk of stream) {
      buffer += decoder.decode(chunk, { stream: true });
      for (let at = buffer.indexOf("\u0001END "); at >= 0; at = buffer.indexOf("\u0001END ")) {
        const end = buffer.indexOf("\n", at);
        if (end < 0) break;
        deliver({ text: buffer.slice(0, at), code: Number(buffer.slice(at + 5, end)) });
        buffer = buffer.slice(end + 1);
      }
    }
    // The process ended: whatever waits gets what was left, and no exit code.
    for (const waiter of waiting.splice(0)) waiter({ text: `${buffer}[runner ended]`, code: NaN });
  })();
  return () => ready.length ? Promise.resolve(ready.shift()!) : new Promise((r) => waiting.push(r));
}

/** A warm CLI process that runs command lines in order. */
class Runner {
  readonly #child: Deno.ChildProcess;
  readonly #stdin: WritableStreamDefaultWriter<Uint8Array>;
  readonly #stdout: () => Promise<{ text: string; code: number }>;
  readonly #stderr: () => Promise<{ text: string; code: number }>;

  constructor(env: Record<string, string>) {
    this.#child = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", `${root}tests/journey_runner.ts`],
      cwd: root,
      env: { XDG_RUNTIME_DIR: "/tmp", ...env },
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    this.#stdin = this.#child.stdin.getWriter();
    this.#stdout = sections(this.#child.stdout);
    this.#stderr = sections(this.#child.stderr);
  }

  /** Queues a command line; resolves when it has run. */
  run(argv: string[]): Promise<Run> {
    void this.#stdin.write(new TextEncoder().encode(`${JSON.stringify(argv)}\n`));
    return Promise.all([this.#stdout(), this.#stderr()]).then(([out, err]) => ({
      code: out.code,
      stdout: out.text,
      stderr: err.text,
    }));
  }

  async close(): Promise<void> {
    await this.#stdin.close();
    await this.#child.status;
  }
}

// --- The matrix -------------------------------------------------------------------------------

type EngineName = "onnxruntime" | "tfjs-wasm" | "tfjs-cpu" | "tfjs-webgpu";
type ModelKind = "bundled" | "registry" | "keras" | "onnx";

const ENGINES: Record<EngineName, string[]> = {
  "onnxruntime": ["--engine", "onnxruntime"],
  "tfjs-wasm": ["--backend", "wasm"],
  "tfjs-cpu": ["--backend", "cpu"],
  "tfjs-webgpu": ["--backend", "webgpu"],
};

/** Each kind of model: how it is named, and how `classify` preprocesses the cat for it. */
const MODELS: Record<ModelKind, { name: string; flags: string[]; preprocess: PreprocessSpec }> = {
  bundled: { name: "cifar_resnet20.cifar10", flags: [], preprocess: CIFAR10_TORCH },
  registry: { name: "cifar_resnet32.cifar10", flags: [], preprocess: CIFAR10_TORCH },
  keras: {
    name: "testdata/keras-mlperf-tiny/resnet8_cifar10.h5",
    flags: ["--preprocess", "CIFAR10_RAW"],
    preprocess: CIFAR10_RAW,
  },
  // Declares a 16×16 input, which classify resizes to.
  onnx: {
    name: "testdata/fixtures/onnx_ops/view_op9.onnx",
    flags: [],
    preprocess: graphPreprocess([16, 16]),
  },
};

const CAT = "testdata/images/cat.jpg";
const TV_BASIC = "testdata/fixtures/nets/tv_basic.onnx";

/** `cat.jpg` preprocessed as classify would for each model, as a `[1, H, W, 3]` .npy file. */
async function writeInputs(dir: string): Promise<Record<ModelKind, string>> {
  await useBackend("cpu");
  const cat = await decodeImage(await Deno.readFile(`${root}${CAT}`), CAT);
  const paths = {} as Record<ModelKind, string>;
  for (
    const [kind, { preprocess }] of Object.entries(MODELS) as [ModelKind, typeof MODELS.onnx][]
  ) {
    const x = preprocessImages([cat], preprocess);
    paths[kind] = `${dir}/${kind}_cat.npy`;
    await Deno.writeFile(paths[kind], writeNpy(x.shape, (await x.data()) as Float32Array));
    x.dispose();
  }
  return paths;
}

function softmax(logits: Float32Array): number[] {
  const max = Math.max(...logits);
  const exp = Array.from(logits, (v) => Math.exp(v - max));
  const sum = exp.reduce((a, b) => a + b, 0);
  return exp.map((v) => v / sum);
}

async function missing(path: string): Promise<boolean> {
  return await Deno.stat(path).then(() => false, () => true);
}

Deno.test("journeys: each command × each engine × each kind of model", async (t) => {
  const dir = await Deno.makeTempDir();
  const inputs = await writeInputs(dir);
  // The registry model comes from a loopback mirror, through the real download path.
  const checkpoint = await Deno.readFile(`${root}testdata/cifar10-resnet/resnet32-d509ac18.th`);
  const mirrorPath =
    "/github.com/akamaster/pytorch_resnet_cifar10/raw/master/pretrained_models/resnet32-d509ac18.th";
  const server = startServer({ [mirrorPath]: { body: checkpoint } });
  const env = { DENOZOO_HOME: `${dir}/home`, DENOZOO_MIRROR: server.origin };
  const runners = Object.fromEntries(
    (Object.keys(ENGINES) as EngineName[]).map((engine) => [engine, new Runner(env)]),
  ) as Record<EngineName, Runner>;

  // Every command line is queued at once: the four processes work side by side while the
  // steps below check the results in order.
  const queued = new Map<string, Promise<Run>>();
  const key = (...parts: string[]) => parts.join(" × ");
  const queue = (id: string, engine: EngineName, argv: string[]) => {
    queued.set(id, runners[engine].run(argv));
  };
  for (const engine of Object.keys(ENGINES) as EngineName[]) {
    const flags = ENGINES[engine];
    const isOrt = engine === "onnxruntime";
    for (const kind of Object.keys(MODELS) as ModelKind[]) {
      const { name } = MODELS[kind];
      queue(key("predict", engine, kind), engine, [
        "predict",
        "--weights",
        name,
        "--input",
        inputs[kind],
        "--output",
        `${dir}/${engine}_${kind}.npy`,
        ...flags,
      ]);
    }
    // The ONNX graph's own torch reference, in its declared NCHW layout.
    queue(key("predict", engine, "onnx", "torch reference"), engine, [
      "predict",
      "--weights",
      MODELS.onnx.name,
      "--input",
      "testdata/fixtures/onnx_ops/view_op9_input.npy",
      "--input-layout",
      "nchw",
      "--output",
      `${dir}/${engine}_onnx_reference.npy`,
      ...flags,
    ]);
    for (const kind of Object.keys(MODELS) as ModelKind[]) {
      queue(key("classify", engine, kind), engine, [
        "classify",
        CAT,
        "--model",
        MODELS[kind].name,
        "--top",
        "3",
        ...MODELS[kind].flags,
        ...flags,
      ]);
      queue(key("bench", engine, kind), engine, [
        "bench",
        "--model",
        MODELS[kind].name,
        "--runs",
        "1",
        "--json",
        ...flags,
      ]);
      if (!isOrt) {
        queue(key("convert --verify", engine, kind), engine, [
          "convert",
          MODELS[kind].name,
          "--out",
          `${dir}/${engine}_${kind}.safetensors`,
          "--verify",
          ...flags,
        ]);
      }
    }
    if (!isOrt) {
      queue(key("convert --verify", engine, "onnx zoo ResNet"), engine, [
        "convert",
        TV_BASIC,
        "--out",
        `${dir}/${engine}_tv_basic.safetensors`,
        "--verify",
        ...flags,
      ]);
    }
  }

  /** A step that checks one queued command line. */
  const check = async (id: string, body: (run: Run) => Promise<void> | void) => {
    await t.step({
      name: id,
      fn: async () => {
        const run = await queued.get(id)!;
        try {
          await body(run);
        } catch (error) {
          (error as Error).message += `\nstdout:\n${run.stdout}\nstderr:\n${run.stderr}`;
          throw error;
        }
      },
    });
  };
  /** What `predict` wrote for an engine and model, once that command has run. */
  const logits = async (engine: EngineName, kind: ModelKind | "onnx_reference") => {
    const id = kind === "onnx_reference"
      ? key("predict", engine, "onnx", "torch reference")
      : key("predict", engine, kind);
    await queued.get(id);
    const path = `${dir}/${engine}_${kind}.npy`;
    return readNpy(await Deno.readFile(path), path).data as Float32Array;
  };
  try {
    for (const engine of Object.keys(ENGINES) as EngineName[]) {
      for (const kind of Object.keys(MODELS) as ModelKind[]) {
        await check(key("predict", engine, kind), async (run) => {
          if (kind === "keras" && engine === "onnxruntime") {
            assertEquals(run.code, 1);
            assertEquals(
              run.stderr.trim().split("\n").at(-1),
              `denozoo: ${MODELS.keras.name} is a Keras network, which runs on tfjs only; ` +
                "engine 'onnxruntime' runs zoo ResNets and ONNX files (use --engine tfjs or auto)",
            );
            return;
          }
          assertEquals(run.code, 0);
          assertStringIncludes(run.stdout, `wrote logits [1,10] to ${dir}/${engine}_${kind}.npy`);
          const got = await logits(engine, kind);
          assertEquals(got.length, 10);
          if (engine !== "tfjs-cpu") {
            const error = relativeError(got, await logits("tfjs-cpu", kind));
            assert(error < 1e-4, `${engine} vs tfjs-cpu: relative error ${error}`);
          }
        });
      }
      await check(key("predict", engine, "onnx", "torch reference"), async (run) => {
        assertEquals(run.code, 0);
        const expected = readNpy(
          await Deno.readFile(`${root}testdata/fixtures/onnx_ops/view_op9_output.npy`),
          "torch",
        ).data as Float32Array;
        const error = relativeError(await logits(engine, "onnx_reference"), expected);
        assert(error < 1e-4, `relative error to torch ${error}`);
      });
      for (const kind of Object.keys(MODELS) as ModelKind[]) {
        await check(key("classify", engine, kind), async (run) => {
          if (kind === "keras" && engine === "onnxruntime") {
            assertEquals(run.code, 1);
            assertEquals(
              run.stderr.trim(),
              `denozoo: ${MODELS.keras.name} is a Keras network, which runs on tfjs only; ` +
                "engine 'onnxruntime' runs zoo ResNets and ONNX files (use --engine tfjs or auto)",
            );
            return;
          }
          assertEquals(run.code, 0);
          assertStringIncludes(run.stderr, `engine: ${engine}`);
          const rows = tableRows(run.stdout);
          assertEquals(rows.length, 3);
          const predicted = await logits(engine, kind);
          const probabilities = softmax(predicted);
          const best = probabilities.indexOf(Math.max(...probabilities));
          assertEquals(rows[0].index, best);
          assertEquals(rows[0].label, cifar10Labels[best]);
          if (kind === "bundled" || kind === "registry") assertEquals(rows[0].label, "cat");
          // The keras model ends in a softmax: what predict writes are its probabilities.
          const expected = kind === "keras" ? Array.from(predicted) : probabilities;
          for (const row of rows) {
            const percent = expected[row.index] * 100;
            assert(
              Math.abs(row.percent - percent) <= 0.006,
              `${row.label}: ${row.percent} vs ${percent}`,
            );
          }
        });
        await check(key("bench", engine, kind), (run) => {
          if (kind === "keras" || kind === "onnx") {
            assertEquals(run.code, 1);
            assertStringIncludes(run.stderr, "bench times the zoo's ResNets");
            assertEquals(run.stderr.trim().split("\n").length, 1);
            return;
          }
          assertEquals(run.code, 0);
          const row = JSON.parse(run.stdout.trim().split("\n")[0]);
          assertEquals(row.model, MODELS[kind].name);
          assertEquals(
            [row.engine, row.backend],
            engine === "onnxruntime" ? ["onnxruntime", "cpu"] : ["tfjs", engine.slice(5)],
          );
          assert(row.median_ms > 0);
        });
        if (engine === "onnxruntime") continue;
        await check(key("convert --verify", engine, kind), async (run) => {
          // Nothing is written when convert refuses.
          assert(await missing(`${dir}/${engine}_${kind}.safetensors`), "a file was written");
          assertEquals(run.stderr.trim().split("\n").length, 1);
          if (kind === "onnx") {
            assertEquals(run.code, 1);
            assertStringIncludes(run.stderr, "ONNX graphs outside the zoo run as they are");
            return;
          }
          assertEquals(run.code, 2);
          const format =
            { bundled: "zoo-safetensors", registry: "pytorch-legacy", keras: "keras-h5" }[kind];
          assertStringIncludes(run.stderr, "--verify needs an ONNX source");
          assertStringIncludes(run.stderr, ` is ${format}`);
        });
      }
      if (engine === "onnxruntime") continue;
      await check(key("convert --verify", engine, "onnx zoo ResNet"), async (run) => {
        assertEquals(run.code, 0);
        const line = run.stdout.split("\n").find((l) => l.startsWith("verify:")) ?? "";
        assertStringIncludes(line, "top-1 agreement 2/2 against onnxruntime");
        assert(Number(/relative ([0-9.e+-]+)/.exec(line)?.[1]) < 1e-4, line);
        assert(!(await missing(`${dir}/${engine}_tv_basic.safetensors`)));
      });
    }
    await t.step(
      "the mirror served the registry file once; the cache served every other use",
      () => {
        const fetched = server.requests.filter((r) => r.path === mirrorPath);
        assertEquals(fetched.length, 1);
      },
    );
  } finally {
    await Promise.all(Object.values(runners).map((runner) => runner.close()));
    await server.close();
    tf.disposeVariables();
    await Deno.remove(dir, { recursive: true });
  }
});
