/**
 * What the tests share: reading reference arrays and measuring the error against them
 * (parity tests), running the real command line in a subprocess, and where Deno keeps npm
 * packages (tests that start Deno).
 *
 * @module
 */

import { assertEquals } from "@std/assert";
import { readNpy } from "../formats/npy.ts";

/** A float32 array with its shape, as read from a reference `.npy` file. */
export interface Reference {
  /** Dimensions, outermost first. */
  shape: number[];
  /** Row-major values. */
  data: Float32Array;
}

/** Reads a float32 `.npy` file. */
export async function npy(path: string): Promise<Reference> {
  const t = readNpy(await Deno.readFile(path), path);
  return { shape: t.shape, data: t.data as Float32Array };
}

/** max |actual − expected| / max |expected|: the error relative to the output's scale. */
export function relativeError(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  assertEquals(actual.length, expected.length);
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < expected.length; i++) {
    diff = Math.max(diff, Math.abs(actual[i] - expected[i]));
    scale = Math.max(scale, Math.abs(expected[i]));
  }
  return diff / scale;
}

/** Where this Deno keeps its caches. */
export interface DenoCache {
  /** `DENO_DIR` when set, else the platform's default. */
  denoDir: string;
  /**
   * The npm package cache (`DENO_DIR/npm`), symbolic links resolved, as Deno reads packages
   * from it: tfjs-wasm, libwebp and onnxruntime load their binaries from it, so a child Deno
   * with narrow permissions needs it readable.
   */
  npmCache: string;
}

/** Asks `deno info --json` where Deno keeps its caches (it honours `DENO_DIR`). */
export async function denoCache(): Promise<DenoCache> {
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json"],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder();
  if (code !== 0) throw new Error(`deno info --json failed: ${text.decode(stderr)}`);
  const { denoDir, npmCache } = JSON.parse(text.decode(stdout));
  return { denoDir, npmCache: await Deno.realPath(npmCache).catch(() => npmCache) };
}

/**
 * The rows of classify's table (`  1. cat  100.00%  [3]`): label, percentage and class index.
 *
 * @example
 * ```ts
 * console.log(tableRows("cat.jpg  (model)\n  1. cat  100.00%  [3]\n")); // [ { label: "cat", percent: 100, index: 3 } ]
 * ```
 */
export function tableRows(stdout: string): { label: string; percent: number; index: number }[] {
  return [...stdout.matchAll(/^\s+\d+\. (.+?)\s+([\d.]+)%\s+\[(\d+)\]$/gm)].map((m) => ({
    label: m[1],
    percent: Number(m[2]),
    index: Number(m[3]),
  }));
}

/** What a run of the command line printed, and its exit code. */
export interface CliResult {
  /** Exit code. */
  code: number;
  /** Everything printed on stdout. */
  stdout: string;
  /** Everything printed on stderr. */
  stderr: string;
}

const CLI = new URL("../cli.ts", import.meta.url).pathname;

/**
 * Runs `deno run -A cli.ts ARGS…` in a subprocess, as a user would, with only `XDG_RUNTIME_DIR`
 * (WebGPU's adapter needs it) and `env` set; `deny` withholds permissions from `-A` (`ffi`:
 * no native addon loads).
 */
export async function runCli(
  args: string[],
  env: Record<string, string> = {},
  options: { cwd?: string; deny?: string[] } = {},
): Promise<CliResult> {
  const deny = (options.deny ?? []).map((name) => `--deny-${name}`);
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", ...deny, CLI, ...args],
    cwd: options.cwd,
    env: { XDG_RUNTIME_DIR: "/tmp", ...env },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder();
  return { code, stdout: text.decode(stdout), stderr: text.decode(stderr) };
}
