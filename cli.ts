/**
 * The denozoo command line.
 *
 * ```sh
 * deno run -A cli.ts classify IMAGE… [--model NAME] [--top 5] [--json] [--backend auto|webgpu|wasm|cpu] [--batch N]
 * deno run -A cli.ts convert SRC --out FILE.safetensors|FILE.onnx|FOLDER [--arch auto|NAME] [--labels SET|FILE] [--verify]
 * deno run -A cli.ts predict --weights NAME --input X.npy [--input-layout nchw|nhwc] --output Y.npy
 * deno run -A cli.ts list [--json]
 * deno run -A cli.ts info ID
 * deno run -A cli.ts pull ID [--verify]
 * deno run -A cli.ts bench --model NAME [--engine tfjs|onnxruntime|auto|all]
 * deno run -A cli.ts cache list|verify|remove [ID…]
 * deno run -A cli.ts help COMMAND          # or COMMAND --help; --version
 * ```
 *
 * Each command lives in `cli/` (`cli/classify.ts`, `cli/convert.ts`, …) with its flags as data,
 * the dispatch in `cli/main.ts`.
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
