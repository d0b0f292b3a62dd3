/**
 * The layering check: the top-level folders are layers, and a source file may import only
 * its own folder and the folders below it. It fails (exit 1, one line per violation) when
 *
 * - a non-test source file refers to a module in a folder of higher rank, to a root file
 *   (`mod.ts`, `cli.ts`), or to a folder that is not a layer (`tests/`, `tools/`, …);
 * - the folder graph of the source files has a cycle;
 * - a non-test source file in a layer folder, or `mod.ts`/`cli.ts`, is over 600 lines.
 *
 * `*_test.ts` files may import anything (they are left out of the folder graph too), and so
 * may the root files. Module references are found by scanning the source: static `import` and
 * `export … from`, `import type`, dynamic `import("…")`, `import.meta.resolve("…")` and
 * `new URL("….ts", import.meta.url)` (worker scripts).
 *
 * ```sh
 * deno run --allow-read tools/check_layers.ts [--root DIR] [--no-size] [--max-lines N]
 * ```
 *
 * @module
 */

import { type Reference, scanReferences } from "./module_references.ts";

/** The layer folders, lowest first: a folder's rank is its index. */
export const LAYERS: readonly string[] = [
  "arch", // 0: specs, presets, plans, weights, contracts: pure data and functions
  "formats", // 1: bytes ⇄ named tensors
  "convert", // 2: foreign weights ⇄ spec
  "runtime", // 3: models from plans, backends, engines
  "graph", // 4: foreign networks run from their own graph
  "hub", // 5: registry, cache, download, hashing
  "vision", // 6: images and preprocessing
  "pipelines", // 7: resolve, classify, pull
  "cli", // 8: one file per command
];

/** The files at the repository root that are entry points: they may import every layer. */
export const ROOT_FILES: readonly string[] = ["mod.ts", "cli.ts"];

/** The most lines a non-test source file may have. */
export const MAX_LINES = 600;

/** One broken rule, ready to print. */
export interface Violation {
  /** Which rule: imports only downwards, no folder cycle, at most 600 lines. */
  rule: "direction" | "cycle" | "size";
  /** Path relative to the root, with `/`. */
  file: string;
  /** 1-based line of the import (for the size rule: the file's line count). */
  line: number;
  /** What is wrong, naming the imported path. */
  message: string;
}

/** What {@linkcode checkLayers} checks. */
export interface CheckOptions {
  /** Check the size rule (default true). */
  size?: boolean;
  /** The size limit (default {@linkcode MAX_LINES}). */
  maxLines?: number;
}

/** Whether a reference names a TypeScript/JavaScript module by a relative path. */
function isRelativeModule(reference: Reference): boolean {
  if (!/^\.\.?\//.test(reference.specifier)) return false;
  // A URL may name any file (the bundled model); only modules are layering edges.
  const byUrl = reference.kind === "url" || reference.kind === "resolve";
  return !byUrl || /\.(ts|tsx|mts|js|mjs)$/.test(reference.specifier);
}

/** The layer a root-relative path lies in: its top folder, `.` for a root file, else null. */
function layerOf(path: string): string | null {
  const [top, ...rest] = path.split("/");
  if (rest.length === 0) return ROOT_FILES.includes(top) ? "." : null;
  return LAYERS.includes(top) ? top : null;
}

function rankOf(layer: string): number {
  return layer === "." ? LAYERS.length : LAYERS.indexOf(layer);
}

function describe(layer: string | null): string {
  if (layer === null) return "not a layer";
  if (layer === ".") return "the root entry points";
  return `${layer}, rank ${rankOf(layer)}`;
}

/** Resolves a relative specifier from a root-relative file; ".." segments may leave the root. */
function resolveRelative(file: string, specifier: string): string {
  const parts = file.split("/").slice(0, -1);
  for (const part of specifier.split("/")) {
    if (part === "..") {
      if (parts.length && parts.at(-1) !== "..") parts.pop();
      else parts.push("..");
    } else if (part !== "." && part !== "") parts.push(part);
  }
  return parts.join("/");
}

async function* walk(dir: string, relative: string): AsyncGenerator<string> {
  let entries: Deno.DirEntry[];
  try {
    entries = await Array.fromAsync(Deno.readDir(dir));
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return;
    throw error;
  }
  entries.sort((a, b) => a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
  for (const entry of entries) {
    const path = `${relative}/${entry.name}`;
    if (entry.isDirectory) yield* walk(`${dir}/${entry.name}`, path);
    else if (entry.isFile && entry.name.endsWith(".ts")) yield path;
  }
}

/** The `.ts` files the rules apply to, root-relative: every file in the layers, and the root files. */
export async function layerFiles(root: string): Promise<string[]> {
  const files: string[] = [];
  for (const file of ROOT_FILES) {
    try {
      if ((await Deno.stat(`${root}/${file}`)).isFile) files.push(file);
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    }
  }
  for (const layer of LAYERS) {
    for await (const file of walk(`${root}/${layer}`, layer)) files.push(file);
  }
  return files;
}

/** Whether a file is a test (exempt from the direction and size rules). */
export function isTest(file: string): boolean {
  return file.endsWith("_test.ts");
}

/** One cycle through `start` in the folder graph, as its list of folders, or null. */
function cycleThrough(edges: Map<string, Map<string, unknown>>, start: string): string[] | null {
  const seen = new Set<string>();
  const path: string[] = [];
  const visit = (node: string): boolean => {
    path.push(node);
    seen.add(node);
    for (const next of [...(edges.get(node)?.keys() ?? [])].sort()) {
      if (next === start) return true;
      if (!seen.has(next) && visit(next)) return true;
    }
    path.pop();
    return false;
  };
  return visit(start) ? path : null;
}

/**
 * Checks the layering rules on the tree at `root` and returns the violations, sorted by file
 * and line (cycles last). An empty list means the tree is layered.
 *
 * @example
 * ```ts
 * import { checkLayers } from "./check_layers.ts";
 * const violations = await checkLayers(".", { size: false });
 * console.log(violations); // []
 * ```
 */
export async function checkLayers(root: string, options: CheckOptions = {}): Promise<Violation[]> {
  const maxLines = options.maxLines ?? MAX_LINES;
  const violations: Violation[] = [];
  /** Folder graph: from → to → the first reference that makes the edge. */
  const edges = new Map<string, Map<string, { file: string; reference: Reference }>>();
  for (const file of await layerFiles(root)) {
    if (isTest(file)) continue;
    const source = await Deno.readTextFile(`${root}/${file}`);
    const lines = source.split("\n").length - (source.endsWith("\n") ? 1 : 0);
    if (options.size !== false && lines > maxLines) {
      violations.push({
        rule: "size",
        file,
        line: lines,
        message: `${lines} lines, over the limit of ${maxLines}: split it`,
      });
    }
    const from = layerOf(file)!;
    for (const reference of scanReferences(source)) {
      if (!isRelativeModule(reference)) continue;
      const target = resolveRelative(file, reference.specifier);
      const to = layerOf(target);
      if (from !== "." && (to === null || rankOf(to) > rankOf(from))) {
        violations.push({
          rule: "direction",
          file,
          line: reference.line,
          message: `imports "${reference.specifier}" (${describe(to)}) from ${describe(from)}: ` +
            "a layer may import only itself and the layers below it",
        });
      }
      if (to !== null && to !== from) {
        if (!edges.has(from)) edges.set(from, new Map());
        if (!edges.get(from)!.has(to)) edges.get(from)!.set(to, { file, reference });
      }
    }
  }
  violations.sort((a, b) => a.file < b.file ? -1 : a.file > b.file ? 1 : a.line - b.line);
  const reported = new Set<string>();
  for (const start of [...edges.keys()].sort((a, b) => rankOf(a) - rankOf(b))) {
    const cycle = cycleThrough(edges, start);
    if (!cycle || cycle.some((node) => reported.has(node))) continue;
    cycle.forEach((node) => reported.add(node));
    const loop = [...cycle, start].join(" → ");
    cycle.forEach((node, k) => {
      const edge = edges.get(node)!.get(cycle[(k + 1) % cycle.length])!;
      violations.push({
        rule: "cycle",
        file: edge.file,
        line: edge.reference.line,
        message: `imports "${edge.reference.specifier}": folder cycle ${loop}`,
      });
    });
  }
  return violations;
}

/** The repository this script lives in. */
const DEFAULT_ROOT = new URL("..", import.meta.url);

if (import.meta.main) {
  const args = [...Deno.args];
  let root = decodeURIComponent(DEFAULT_ROOT.pathname).replace(/\/$/, "");
  const options: CheckOptions = {};
  while (args.length) {
    const arg = args.shift()!;
    if (arg === "--root") root = args.shift()!.replace(/\/$/, "");
    else if (arg === "--no-size") options.size = false;
    else if (arg === "--max-lines") options.maxLines = Number(args.shift());
    else {
      console.error(`unknown argument ${arg}
usage: deno run --allow-read tools/check_layers.ts [--root DIR] [--no-size] [--max-lines N]`);
      Deno.exit(2);
    }
  }
  const violations = await checkLayers(root, options);
  for (const v of violations) console.log(`${v.file}:${v.line}: ${v.rule}: ${v.message}`);
  if (violations.length) {
    console.error(`${violations.length} layering violation(s)`);
    Deno.exit(1);
  }
}
