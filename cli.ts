/**
 * The denozoo command line.
 *
 * ```sh
 * deno run -A cli.ts classify IMAGE… [--model ID|FILE] [--top 5] [--json] [--backend auto|webgpu|wasm|cpu] [--batch N]
 * deno run -A cli.ts convert SRC --out FILE.safetensors [--arch auto|NAME] [--verify]
 * deno run -A cli.ts predict --weights FILE --input X.npy [--input-layout nchw|nhwc] [--batch 16] --output Y.npy
 * deno run -A cli.ts list [--json]
 * deno run -A cli.ts info ID
 * deno run -A cli.ts pull ID [--verify]
 * ```
 *
 * Each command lives in `cli/` (`cli/classify.ts`, `cli/convert.ts`, …), the dispatch in
 * `cli/main.ts`.
 *
 * @example
 * ```sh
 * deno run -A jsr:@denozoo/zoo/cli classify cat.png
 * ```
 *
 * @example Run it from code
 * ```ts
 * import { main } from "./cli.ts";
 * const code = await main(["classify", "testdata/images/cat.jpg", "--top", "1"]);
 * console.log(code); // 0
 * ```
 *
 * @module
 */

import { main } from "./cli/main.ts";

export { main };

if (import.meta.main) Deno.exit(await main(Deno.args));
