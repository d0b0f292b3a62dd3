/**
 * Module references in TypeScript source, found by a small scanner (no parser dependency):
 * static `import` and `export … from` (type-only too), dynamic `import("…")` (also in type
 * positions), `import.meta.resolve("…")` and `new URL("…", import.meta.url)`. Comments,
 * regular expressions and template literals with substitutions are skipped, so strings in
 * them are never taken for references. Each reference carries its line and the offsets of
 * its text, so a caller can rewrite it in place.
 *
 * Used by `check_layers.ts` (the layering rules) and `jsr_registry.ts` (unfurling).
 *
 * @module
 */

/** How a module is referred to. */
export type ReferenceKind = "import" | "export" | "dynamic import" | "resolve" | "url";

/** One module reference in a source file. */
export interface Reference {
  /** The string's value, e.g. `../formats/zip.ts`. */
  specifier: string;
  /** 1-based line of the string. */
  line: number;
  /** How the module is referred to. */
  kind: ReferenceKind;
  /**
   * Offsets of the string's text between its quotes (`source.slice(start, end)`); equal to
   * `specifier` unless the string has escapes.
   */
  start: number;
  end: number;
}

type Token =
  | { type: "name" | "punct"; value: string; line: number }
  | { type: "string"; value: string; line: number; start: number; end: number }
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
      tokens.push({ type: "string", value, line, start: start + 1, end: i - 1 });
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
            : { type: "string", value: raw, line: templateLine, start: start + 1, end: i - 1 },
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
 * import { scanReferences } from "./module_references.ts";
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
  const add = (token: Token | undefined, kind: ReferenceKind) => {
    if (token?.type !== "string") return;
    const { value: specifier, line, start, end } = token;
    references.push({ specifier, line, kind, start, end });
  };
  for (let k = 0; k < tokens.length; k++) {
    const afterDot = is(k - 1, ".");
    if (is(k, "import") && !afterDot) {
      if (is(k + 1, "(")) {
        if (is(k + 3, ")") || is(k + 3, ",")) add(stringAt(k + 2), "dynamic import");
      } else if (is(k + 1, ".") && is(k + 2, "meta") && is(k + 3, ".") && is(k + 4, "resolve")) {
        if (is(k + 5, "(")) add(stringAt(k + 6), "resolve");
      } else if (!is(k + 1, ".")) {
        add(stringAt(k + 1) ?? fromClause(k + 1), "import");
      }
    } else if (is(k, "export") && !afterDot) {
      const next = is(k + 1, "type") ? k + 2 : k + 1;
      if (is(next, "{") || is(next, "*")) add(fromClause(next), "export");
    } else if (is(k, "new") && is(k + 1, "URL") && is(k + 2, "(")) {
      const base = ["import", ".", "meta", ".", "url"];
      if (is(k + 4, ",") && base.every((value, j) => is(k + 5 + j, value))) {
        add(stringAt(k + 3), "url");
      }
    }
  }
  return references;
}
