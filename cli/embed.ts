/**
 * `embed IMAGE… --out FEATS.npy [--model NAME] [--batch 32] [--engine …] [--backend …]`:
 * the pooled penultimate features of each image (`[N, C]` float32, input order) as a NumPy
 * file, and beside it `FEATS.files.txt` listing the image of each row. Files that cannot be
 * read or decoded are skipped, each named on stderr, and the command then exits with 1.
 *
 * @example
 * ```ts
 * import { embed, EMBED } from "./embed.ts";
 * import { parseCommand } from "./args.ts";
 * const out = `${await Deno.makeTempDir()}/feats.npy`;
 * await embed(parseCommand(EMBED, ["testdata/images", "--out", out]));
 * // wrote …/feats.npy [3, 64] and …/feats.files.txt (cifar_resnet20.cifar10, engine onnxruntime)
 * ```
 *
 * @module
 */

import { backend, engine, outputFolderExists, UsageError } from "./args.ts";
import {
  type Args,
  BACKEND_FLAG,
  CACHE_ENVIRONMENT,
  type CommandSpec,
  ENGINE_FLAG,
  MODEL_MEANING,
  THREADS_FLAG,
} from "./flags.ts";
import { embedFiles, loadEmbedder } from "../pipelines/embed.ts";
import { prefersOrt } from "../runtime/engine.ts";
import { expandImageArgs } from "../vision/paths.ts";
import { writeNpy } from "../formats/npy.ts";
import { writeAtomically } from "../formats/files.ts";

/**
 * `embed` on the command line: operands, flags, examples, environment.
 *
 * @example
 * ```ts
 * import { EMBED } from "./embed.ts";
 * console.log(EMBED.flags.find((f) => f.name === "batch")?.default); // 32
 * ```
 */
export const EMBED = {
  name: "embed",
  brief: "image embeddings (pooled features) as a .npy file",
  summary: "Embed images: the pooled penultimate features of a pretrained ResNet (what its " +
    "classifier reads), one row per image in input order, written as a float32 .npy file " +
    "[N, C], with FEATS.files.txt beside it naming the image of each row. An image that cannot " +
    "be read or decoded is named on stderr and skipped; the command then exits with 1.",
  operands: {
    name: "IMAGE…",
    meaning: "image files (JPEG, PNG, GIF, WebP), folders (searched recursively) or globs",
    min: 1,
    max: Infinity,
  },
  flags: [
    {
      name: "out",
      kind: "string",
      aliases: ["o"],
      value: "FEATS.npy",
      required: true,
      meaning: "the features file to write (its folder must exist)",
    },
    {
      name: "model",
      kind: "string",
      aliases: ["m"],
      value: "NAME",
      defaultText: "the bundled CIFAR-10 ResNet-20 (cifar_resnet20.cifar10): 64 features",
      meaning: `the backbone: ${MODEL_MEANING}; a zoo ResNet`,
    },
    {
      name: "batch",
      kind: "integer",
      value: "N",
      min: 1,
      default: 32,
      meaning: "images per forward pass",
    },
    ENGINE_FLAG,
    BACKEND_FLAG,
    THREADS_FLAG,
  ],
  examples: [
    "denozoo embed photos/ --out feats.npy                    # 64 features per image",
    "denozoo embed 'shots/*.jpg' --model resnet50 --out feats.npy   # 2048 per image",
  ],
  env: CACHE_ENVIRONMENT,
} as const satisfies CommandSpec;

/**
 * The file listing the images of a features file's rows: `feats.npy` → `feats.files.txt`.
 *
 * @example
 * ```ts
 * console.log(listingPath("out/feats.npy")); // out/feats.files.txt
 * ```
 */
export function listingPath(out: string): string {
  return `${out.replace(/\.npy$/i, "")}.files.txt`;
}

/**
 * Runs `embed`.
 *
 * @example
 * ```ts
 * import { parseCommand } from "./args.ts";
 * const out = `${await Deno.makeTempDir()}/cat.npy`;
 * await embed(parseCommand(EMBED, ["testdata/images/cat.jpg", "--out", out, "--engine", "tfjs"]));
 * // wrote …/cat.npy [1, 64] and …/cat.files.txt (cifar_resnet20.cifar10, engine tfjs-wasm …)
 * ```
 */
export async function embed(args: Args<typeof EMBED>): Promise<void> {
  const out = args.out;
  if (!/\.npy$/i.test(out)) throw new UsageError(`--out must name a .npy file, got '${out}'`);
  await outputFolderExists(out, "out");
  const paths = await expandImageArgs([...args.operands]);
  const batch = args.batch;
  await backend(args, !(await prefersOrt(engine(args))));
  const embedder = await loadEmbedder(args.model, { progress: true, engine: engine(args) });
  const showProgress = Deno.stderr.isTerminal() && paths.length > batch;
  const write = (text: string) => Deno.stderr.writeSync(new TextEncoder().encode(text));
  const result = await embedFiles(embedder, paths, {
    batch,
    onBatch: (done, total) => showProgress && write(`\rembedded ${done}/${total}`),
    onError: ({ path, error }) => {
      if (showProgress) write("\r\x1b[K");
      console.error(`denozoo: skipped ${error.startsWith(path) ? error : `${path}: ${error}`}`);
    },
  });
  if (showProgress) write("\n");
  await embedder.engine.dispose();
  const rows = result.files.length;
  if (rows === 0) {
    // An empty array would replace whatever a previous run left at --out.
    throw new Error(
      `none of the ${paths.length} images could be embedded (named above); nothing written`,
    );
  }
  await writeAtomically(out, writeNpy([rows, result.dimensions], result.data));
  const listing = listingPath(out);
  await writeAtomically(
    listing,
    new TextEncoder().encode(result.files.map((file) => `${file}\n`).join("")),
  );
  console.log(
    `wrote ${out} [${rows}, ${result.dimensions}] and ${listing} ` +
      `(${embedder.name}, engine ${embedder.engine.name})`,
  );
  if (result.failures.length > 0) {
    throw new Error(
      `${result.failures.length} of ${paths.length} images could not be embedded (named above)`,
    );
  }
}
