/**
 * An inference engine on onnxruntime's native CPU build (`onnxruntime-node`, which runs in
 * Deno with FFI permission). It runs models written by `convert/onnx_export.ts` about ten
 * times faster than tfjs' single-threaded wasm backend. The native addon is loaded on first
 * use, so importing this module never fails; {@link ortAvailable} tells whether it can load.
 *
 * @example
 * ```ts
 * import { createModel } from "./model.ts";
 * import { exportOnnx } from "../convert/onnx_export.ts";
 * import { createOrtSession, ortAvailable } from "./ort.ts";
 * if (await ortAvailable()) {
 *   const model = createModel("cifar_resnet20");
 *   const session = await createOrtSession(await exportOnnx(model.plan, model.weights));
 *   const { shape } = await session.run(new Float32Array(3 * 32 * 32), [1, 3, 32, 32]);
 *   console.log(shape); // [ 1, 10 ]
 *   await session.dispose();
 * }
 * ```
 *
 * @module
 */

type Ort = typeof import("onnxruntime-node");

/** Options of {@link createOrtSession}. */
export interface OrtSessionOptions {
  /** Intra-op threads; default: every core (`navigator.hardwareConcurrency`). */
  threads?: number;
  /**
   * Graph optimisation: `all` (default) adds layout transforms that run fastest but keep a
   * second, prepacked copy of the weights; `extended` loads faster in about 60 % of the
   * memory and suits a process that runs only a few images.
   */
  optimization?: "all" | "extended";
  /** Accept a model with several outputs (a feature extractor), read with `runAll`. */
  multipleOutputs?: boolean;
}

/** A loaded ONNX model on onnxruntime. */
export interface OrtSession {
  /** The model's input name. */
  readonly inputName: string;
  /** The model's (first) output name. */
  readonly outputName: string;
  /** Every output name, in the model's order. */
  readonly outputNames: readonly string[];
  /** Runs the model on one float32 tensor, in the layout the model was exported with. */
  run(x: Float32Array, shape: number[]): Promise<OrtOutput>;
  /** Runs the model and returns every output, in the order of `outputNames`. */
  runAll(x: Float32Array, shape: number[]): Promise<OrtOutput[]>;
  /** Releases the native session. */
  dispose(): Promise<void>;
}

/** One float32 output of a session run. */
export interface OrtOutput {
  /** Row-major values. */
  data: Float32Array;
  /** Dimensions. */
  shape: number[];
}

let ortModule: Promise<Ort> | null = null;

/** Loads `onnxruntime-node` once; the import itself loads the native addon. */
function loadOrt(): Promise<Ort> {
  ortModule ??= import("onnxruntime-node");
  return ortModule;
}

/**
 * Whether onnxruntime's native addon loads here (false without FFI permission, or on a
 * platform the package ships no binary for). Never throws.
 *
 * @example
 * ```ts
 * console.log(await ortAvailable()); // true under `deno run -A` on linux-x64
 * ```
 */
export async function ortAvailable(): Promise<boolean> {
  try {
    await loadOrt();
    return true;
  } catch {
    return false;
  }
}

/**
 * Creates an onnxruntime session on the CPU with every graph optimisation on.
 *
 * @param onnxBytes A serialised ONNX model with one input and one float32 output.
 * @param options `threads`: intra-op threads (default: the core count).
 * @throws {Error} If the native addon cannot load or onnxruntime rejects the model.
 *
 * @example
 * ```ts
 * const session = await createOrtSession("testdata/fixtures/nets/tv_basic.onnx", { threads: 2 });
 * const logits = await session.run(new Float32Array(2 * 3 * 64 * 64), [2, 3, 64, 64]);
 * console.log(logits.shape); // [ 2, 10 ]
 * await session.dispose();
 * ```
 */
export async function createOrtSession(
  onnx: Uint8Array | string,
  options: OrtSessionOptions = {},
): Promise<OrtSession> {
  const ort = await loadOrt();
  const threads = options.threads ?? navigator.hardwareConcurrency;
  if (!Number.isInteger(threads) || threads < 1) {
    throw new RangeError(`threads must be a positive integer, got ${threads}`);
  }
  // A path lets onnxruntime read the file itself, with no copy in JS memory.
  const session = await ort.InferenceSession.create(onnx as Uint8Array, {
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    executionMode: "sequential",
    graphOptimizationLevel: options.optimization ?? "all",
  });
  const outputsOk = session.outputNames.length === 1 ||
    (options.multipleOutputs && session.outputNames.length > 1);
  if (session.inputNames.length !== 1 || !outputsOk) {
    await session.release();
    throw new Error(
      `expected a model with one input and ${
        options.multipleOutputs ? "outputs" : "one output"
      }, got inputs [${session.inputNames}] and outputs [${session.outputNames}]`,
    );
  }
  const [inputName] = session.inputNames;
  const outputNames = [...session.outputNames];
  const runAll = async (x: Float32Array, shape: number[]): Promise<OrtOutput[]> => {
    const size = shape.reduce((a, b) => a * b, 1);
    if (size !== x.length) {
      throw new RangeError(`input has ${x.length} values, shape [${shape}] needs ${size}`);
    }
    const result = await session.run({ [inputName]: new ort.Tensor("float32", x, shape) });
    return outputNames.map((name) => {
      const output = result[name];
      if (output.type !== "float32") {
        throw new Error(`output '${name}' is ${output.type}, expected float32`);
      }
      return { data: output.data as Float32Array, shape: output.dims.map(Number) };
    });
  };
  return {
    inputName,
    outputName: outputNames[0],
    outputNames,
    run: async (x, shape) => (await runAll(x, shape))[0],
    runAll,
    dispose: () => session.release(),
  };
}
