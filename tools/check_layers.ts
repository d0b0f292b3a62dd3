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

/** How a module is referred to. */
export type ReferenceKind = "import" | "export" | "dynamic import" | "resolve" | "url";

/** One module reference in a source file. */
export interface Reference {
  /** The string as written, e.g. `../formats/zip.ts`. */
  specifier: string;
  /** 1-based line of the string. */
  line: number;
  kind: ReferenceKind;
}

/** One broken rule, ready to print. */
export interface Violation {
  rule: "direction" | "cycle" | "size";
  /** Path relative to the root, with `/`. */
  file: string;
  line: number;
  message: string;
}

/** What {@linkcode checkLayers} checks. */
export interface CheckOptions {
  /** Check the size rule (default true). */
  size?: boolean;
  /** The size limit (default {@linkcode MAX_LINES}). */
  maxLines?: number;
}

type Token =
  | { type: "name" | "punct"; value: string; line: number }
  | { type: "string"; value: string; line: number }
  | { type: "template"; line: number }
  | { type: "other"; line: number };

const KEYWORDS_BEFORE_EXPRESSION = new Set([
  "return",
  "typeof",
  "instanceof",
  "in",
  "of",
  "new",
  "delete",
  "void",
  "throw",
  "case",
  "do",
  "else",
  "yield",
  "await",
]);

/**
 * Splits TypeScript source into the tokens the reference scan needs: names, punctuation
 * and string literals (with their lines). Comments are dropped; regular expressions and
 * template literals become opaque tokens, so neither can be mistaken for an import.
 */
function tokenize(source: string): Token[] {
  const tokens: Token[] = [];
  /** Brace depth at which each open template's `${` began. */
  const templates: number[] = [];
  let depth = 0;
  let line = 1;
  let i = 0;
  const newlines = (from: number, to: number) => {
    for (let k = from; k < to; k++) if (source[k] === "\n") line++;
  };
  const regexAllowed = () => {
    const last = tokens.at(-1);
    if (!last) return true;
    if (last.type === "punct") return ![")", "]"].includes(last.value);
    if (last.type === "name") return KEYWORDS_BEFORE_EXPRESSION.has(last.value);
    return false;
  };
  /** Reads a template from `i` (just after a backtick or a closing `}`) to its end or `${`. */
  const templateRest = () => {
    while (i < source.length) {
      const c = source[i];
      if (c === "\\") i += 2;
      else if (c === "`") {
        i++;
        return;
      } else if (c === "$" && source[i + 1] === "{") {
        i += 2;
        templates.push(depth);
        depth++;
        return;
      } else {
        if (c === "\n") line++;
        i++;
      }
    }
  };
  while (i < source.length) {
    const c = source[i];
    const start = i;
    if (c === "\n") {
      line++;
      i++;
    } else if (/\s/.test(c)) {
      i++;
    } else if (c === "/" && source[i + 1] === "/") {
      while (i < source.length && source[i] !== "\n") i++;
    } else if (c === "/" && source[i + 1] === "*") {
      const end = source.indexOf("*/", i + 2);
      i = end < 0 ? source.length : end + 2;
      newlines(start, i);
    } else if (c === "'" || c === '"') {
      let value = "";
      i++;
      while (i < source.length && source[i] !== c && source[i] !== "\n") {
        if (source[i] === "\\") {
          value += source[i + 1] ?? "";
          i += 2;
        } else value += source[i++];
      }
      i++;
      tokens.push({ type: "string", value, line });
    } else if (c === "`") {
      const templateLine = line;
      i++;
      const before = templates.length;
      templateRest();
      // A template without substitutions is a plain string (`import(\`./x.ts\`)`).
      if (templates.length === before) {
        const raw = source.slice(start + 1, i - 1);
        tokens.push(
          raw.includes("\\")
            ? { type: "template", line: templateLine }
            : { type: "string", value: raw, line: templateLine },
        );
      } else tokens.push({ type: "template", line: templateLine });
    } else if (c === "}" && templates.length && templates.at(-1) === depth - 1) {
      templates.pop();
      depth--;
      i++;
      templateRest();
      tokens.push({ type: "template", line });
    } else if (c === "/" && regexAllowed()) {
      let inClass = false;
      i++;
      while (i < source.length && source[i] !== "\n") {
        const r = source[i];
        if (r === "\\") i++;
        else if (r === "[") inClass = true;
        else if (r === "]") inClass = false;
        else if (r === "/" && !inClass) break;
        i++;
      }
      i++;
      while (i < source.length && /[a-z]/i.test(source[i])) i++;
      tokens.push({ type: "other", line });
    } else if (/[A-Za-z_$]/.test(c)) {
      while (i < source.length && /[\w$]/.test(source[i])) i++;
      tokens.push({ type: "name", value: source.slice(start, i), line });
    } else if (/[0-9]/.test(c)) {
      while (i < source.length && /[\w.]/.test(source[i])) i++;
      tokens.push({ type: "other", line });
    } else {
      if (c === "{") depth++;
      if (c === "}") depth--;
      i++;
      tokens.push({ type: "punct", value: c, line });
    }
  }
  return tokens;
}

/**
 * The module references in a TypeScript source, in order of appearance. Strings in
 * comments, in other strings and in template literals with substitutions are not references.
 *
 * @example
 * ```ts
 * import { scanReferences } from "./check_layers.ts";
 * const source = `import type { A } from "../arch/spec.ts";
 * // import "../not/this.ts";
 * const worker = new URL("./worker.ts", import.meta.url);`;
 * console.log(scanReferences(source).map((r) => `${r.line} ${r.kind} ${r.specifier}`));
 * // [ "1 import ../arch/spec.ts", "3 url ./worker.ts" ]
 * ```
 */
export function scanReferences(source: string): Reference[] {
  const tokens = tokenize(source);
  const references: Reference[] = [];
  const is = (k: number, value: string) => {
    const token = tokens[k];
    return token !== undefined && token.type !== "string" && "value" in token &&
      token.value === value;
  };
  const stringAt = (k: number) => {
    const token = tokens[k];
    return token?.type === "string" ? token : undefined;
  };
  /** From `k`, the first `from "…"` before a `;` or a statement keyword. */
  const fromClause = (k: number) => {
    for (; k < tokens.length && !is(k, ";"); k++) {
      const specifier = is(k, "from") ? stringAt(k + 1) : undefined;
      if (specifier) return specifier;
      if (is(k, "import") || is(k, "export")) return undefined;
    }
    return undefined;
  };
  for (let k = 0; k < tokens.length; k++) {
    const afterDot = is(k - 1, ".");
    if (is(k, "import") && !afterDot) {
      if (is(k + 1, "(")) {
        const specifier = stringAt(k + 2);
        if (specifier && (is(k + 3, ")") || is(k + 3, ","))) {
          references.push({
            specifier: specifier.value,
            line: specifier.line,
            kind: "dynamic import",
          });
        }
      } else if (is(k + 1, ".") && is(k + 2, "meta") && is(k + 3, ".") && is(k + 4, "resolve")) {
        const specifier = is(k + 5, "(") ? stringAt(k + 6) : undefined;
        if (specifier) {
          references.push({ specifier: specifier.value, line: specifier.line, kind: "resolve" });
        }
      } else if (!is(k + 1, ".")) {
        const specifier = stringAt(k + 1) ?? fromClause(k + 1);
        if (specifier) {
          references.push({ specifier: specifier.value, line: specifier.line, kind: "import" });
        }
      }
    } else if (is(k, "export") && !afterDot) {
      const next = is(k + 1, "type") ? k + 2 : k + 1;
      if (is(next, "{") || is(next, "*")) {
        const specifier = fromClause(next);
        if (specifier) {
          references.push({ specifier: specifier.value, line: specifier.line, kind: "export" });
        }
      }
    } else if (is(k, "new") && is(k + 1, "URL") && is(k + 2, "(")) {
      const specifier = stringAt(k + 3);
      const base = ["import", ".", "meta", ".", "url"];
      if (specifier && is(k + 4, ",") && base.every((value, j) => is(k + 5 + j, value))) {
        references.push({ specifier: specifier.value, line: specifier.line, kind: "url" });
      }
    }
  }
  return references;
}

/** Whether a reference names a TypeScript/JavaScript module by a relative path. */
function isRelativeModule(reference: Reference): boolean {
  if (!/^\.\.?\//.test(reference.specifier)) return false;
  // A `new URL(…)` may name any file (the bundled model); only modules are layering edges.
  return reference.kind !== "url" || /\.(ts|tsx|mts|js|mjs)$/.test(reference.specifier);
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
