/**
 * Times the import of a large ONNX file against reading it, each in a fresh process (as a user
 * runs `cli.ts convert`), for the README's import target:
 *
 * ```sh
 * deno run -A tools/import_timing.ts /tmp/fullsize/resnet50.onnx [rounds=20]
 * ```
 *
 * Each round times, in three new processes: `Deno.readFile` of the file; `importFile` with
 * every kernel transposed; and what `convert` does (read and hash, import, write a zoo file).
 * It prints the medians and ranges, and the ratios to the read.
 *
 * @module
 */

import { importBytes, importFile } from "../convert/import.ts";
import { toZooFile } from "../pipelines/provenance.ts";
import { readSource } from "../hub/source.ts";
import { writeAtomically } from "../formats/files.ts";

const [source, roundsArg, child] = Deno.args;
if (!source) throw new Error("usage: import_timing.ts FILE.onnx [rounds]");

/** One timing in this process: `readFile`, `memory` or `file`, printed in ms. */
async function timeOnce(mode: string): Promise<void> {
  const out = `${await Deno.makeTempDir()}/model.safetensors`;
  const started = performance.now();
  if (mode === "readFile") {
    await Deno.readFile(source);
  } else if (mode === "memory") {
    for (const weight of (await importFile(source)).weights.values()) void weight.data;
  } else {
    const { bytes, sha256 } = await readSource(source);
    const imported = await importBytes(bytes, source);
    await writeAtomically(out, await toZooFile(bytes, source, imported, { sha256 }));
  }
  console.log(performance.now() - started);
  await Deno.remove(out.slice(0, out.lastIndexOf("/")), { recursive: true });
}

if (child) {
  await timeOnce(child);
} else {
  const modes = ["readFile", "memory", "file"];
  const times: Record<string, number[]> = { readFile: [], memory: [], file: [] };
  for (let round = 0; round < Number(roundsArg ?? 20); round++) {
    for (const mode of modes) {
      const { stdout } = await new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", import.meta.filename!, source, "0", mode],
        stderr: "inherit",
      }).output();
      times[mode].push(Number(new TextDecoder().decode(stdout)));
    }
  }
  const median = (xs: number[]) => {
    const s = [...xs].sort((a, b) => a - b);
    return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
  };
  const range = (xs: number[], digits: number) =>
    `${Math.min(...xs).toFixed(digits)}–${Math.max(...xs).toFixed(digits)}`;
  for (const mode of modes) {
    const xs = times[mode];
    console.log(`${mode}: median ${median(xs).toFixed(0)} ms (${range(xs, 0)} ms)`);
    if (mode === "readFile") continue;
    const ratios = xs.map((x, i) => x / times.readFile[i]);
    const within = ratios.filter((r) => r <= 2).length;
    console.log(
      `  ÷ readFile: median ${median(ratios).toFixed(2)}× (${range(ratios, 2)}×), ` +
        `≤ 2× in ${within} of ${ratios.length}`,
    );
  }
}
