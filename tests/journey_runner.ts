/**
 * One warm command-line process for the journey tests: reads one JSON array of arguments per
 * line on stdin, runs each through the CLI's `main` (what `cli.ts` runs, without its
 * `Deno.exit`), and after each writes `\u0001END <exit code>` as a line of its own to stdout
 * and to stderr, so that the caller can split the two streams per command. Starting Deno,
 * tfjs and a backend once instead of per command keeps the matrix fast; on WebGPU, the shaders
 * compiled for one command serve the next.
 *
 * ```sh
 * echo '["classify", "testdata/images/cat.jpg"]' | deno run -A tests/journey_runner.ts
 * ```
 *
 * @module
 */

import { main } from "../cli/main.ts";

const decoder = new TextDecoder();
let pending = "";
for await (const chunk of Deno.stdin.readable) {
  pending += decoder.decode(chunk, { stream: true });
  for (let newline = pending.indexOf("\n"); newline >= 0; newline = pending.indexOf("\n")) {
    const line = pending.slice(0, newline);
    pending = pending.slice(newline + 1);
    if (line.trim() === "") continue;
    const code = await main(JSON.parse(line));
    console.log(`\u0001END ${code}`);
    console.error(`\u0001END ${code}`);
  }
}
