/**
 * `embed IMAGE… --out FEATS.npy [--model ID|FILE] [--batch 32] [--engine …] [--backend …]`:
 * the pooled penultimate features of each image (`[N, C]` float32, input order) as a NumPy
 * file, and beside it `FEATS.files.txt` listing the image of each row. Files that cannot be
 * read or decoded are skipped, each named on stderr, and the command then exits with 1.
 *
 * @example
 * ```ts
 * import { embed } from "./embed.ts";
 * import { parseArgv } from "./args.ts";
 * const out = `${await Deno.makeTempDir()}/feats.npy`;
 * await embed(parseArgv(["embed", "testdata/images", "--out", out]));
 * // wrote …/feats.npy [3, 64] and …/feats.files.txt (cifar_resnet20.cifar10, engine onnxruntime)
 * ```
 *
 * @module
 */

import { type Args, backend, engine, option, positiveInt, UsageError } from "./args.ts";
import { embedFiles, loadEmbedder } from "../pipelines/embed.ts";
import { prefersOrt } from "../runtime/engine.ts";
import { expandImageArgs } from "../vision/paths.ts";
import { writeNpy } from "../formats/npy.ts";
import { writeAtomically } from "../formats/files.ts";

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
 * import { parseArgv } from "./args.ts";
 * const out = `${await Deno.makeTempDir()}/cat.npy`;
 * await embed(parseArgv(["embed", "testdata/images/cat.jpg", "--out", out, "--engine", "tfjs"]));
 * // wrote …/cat.npy [1, 64] and …/cat.files.txt (cifar_resnet20.cifar10, engine tfjs-wasm …)
 * ```
 */
export async function embed(args: Args): Promise<void> {
  const inputs = args._.slice(1).map(String);
  if (inputs.length === 0) {
    throw new UsageError("embed needs at least one image, directory or glob");
  }
  const out = option(args, "out");
  if (!/\.npy$/i.test(out)) throw new UsageError(`--out must name a .npy file, got '${out}'`);
  const paths = await expandImageArgs(inputs);
  const batch = positiveInt(args, "batch", 32);
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
