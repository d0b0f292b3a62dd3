/**
 * Checks for JSON metadata a model file records: each field of a JSON object against a
 * {@link Rule}, and one string value parsed and checked with a `ZooFormatError` that names the
 * file and the key. The metadata decides how a file is run (its spec is planned, its
 * preprocessing applied, its labels printed), so every reader checks it rather than trusts it.
 *
 * @example
 * ```ts
 * import { fieldProblem, oneOf, parseField, POSITIVE } from "./metadata_rules.ts";
 * const rules = { size: POSITIVE, mode: oneOf("torch", "tf") };
 * console.log(fieldProblem({ size: 0, mode: "tf" }, rules)); // field 'size' must be a positive integer, got 0
 * const strings = { "x.size": '{"size": 32, "mode": "caffe"}' };
 * try {
 *   parseField(strings, "x.size", "m.onnx", (value) => fieldProblem(value, rules));
 * } catch (error) {
 *   console.log((error as Error).message); // m.onnx: metadata 'x.size': field 'mode' must be one of torch, tf, got "caffe"
 * }
 * ```
 *
 * @module
 */

import { ZooFormatError } from "../arch/errors.ts";

/**
 * What one metadata field must be: a description for the error, and the test.
 *
 * @example
 * ```ts
 * import type { Rule } from "./metadata_rules.ts";
 * const even: Rule = { what: "an even number", ok: (v) => typeof v === "number" && v % 2 === 0 };
 * console.log(even.ok(4), even.ok(3)); // true false
 * ```
 */
export interface Rule {
  /** What the value must be, as the error message says it. */
  what: string;
  /** Whether a value fits. */
  ok(value: unknown): boolean;
  /** Absent is fine. */
  optional?: boolean;
}

/**
 * Whether a value is an integer of at least `min`.
 *
 * @example
 * ```ts
 * import { isCount } from "./metadata_rules.ts";
 * console.log(isCount(3, 1), isCount(0, 1), isCount(1.5, 0)); // true false false
 * ```
 */
export const isCount = (v: unknown, min: number): boolean =>
  Number.isInteger(v) && (v as number) >= min;

/**
 * Whether a value is a finite number.
 *
 * @example
 * ```ts
 * import { isNumber } from "./metadata_rules.ts";
 * console.log(isNumber(0.5), isNumber(Infinity), isNumber("1")); // true false false
 * ```
 */
export const isNumber = (v: unknown): boolean => typeof v === "number" && Number.isFinite(v);

/**
 * Whether a value is a list whose items all pass `test`: of `length` items, or non-empty.
 *
 * @example
 * ```ts
 * import { isNumber, listOf } from "./metadata_rules.ts";
 * console.log(listOf([1, 2], isNumber), listOf([], isNumber), listOf([1], isNumber, 2)); // true false false
 * ```
 */
export const listOf = (v: unknown, test: (item: unknown) => boolean, length?: number): boolean =>
  Array.isArray(v) && (length === undefined ? v.length > 0 : v.length === length) &&
  v.every(test);

/**
 * A string.
 *
 * @example
 * ```ts
 * import { TEXT } from "./metadata_rules.ts";
 * console.log(TEXT.ok("conv1"), TEXT.ok(1)); // true false
 * ```
 */
export const TEXT: Rule = { what: "a string", ok: (v) => typeof v === "string" };

/**
 * A boolean.
 *
 * @example
 * ```ts
 * import { FLAG } from "./metadata_rules.ts";
 * console.log(FLAG.ok(false), FLAG.ok(0)); // true false
 * ```
 */
export const FLAG: Rule = { what: "true or false", ok: (v) => typeof v === "boolean" };

/**
 * A positive integer.
 *
 * @example
 * ```ts
 * import { POSITIVE } from "./metadata_rules.ts";
 * console.log(POSITIVE.ok(224), POSITIVE.ok(0)); // true false
 * ```
 */
export const POSITIVE: Rule = { what: "a positive integer", ok: (v) => isCount(v, 1) };

/**
 * One of some strings.
 *
 * @example
 * ```ts
 * import { oneOf } from "./metadata_rules.ts";
 * console.log(oneOf("a", "b").ok("b"), oneOf("a", "b").what); // true one of a, b
 * ```
 */
export const oneOf = (...values: string[]): Rule => ({
  what: `one of ${values.join(", ")}`,
  ok: (v) => values.includes(v as string),
});

/**
 * A rule whose field may be absent.
 *
 * @example
 * ```ts
 * import { optional, TEXT } from "./metadata_rules.ts";
 * console.log(optional(TEXT).optional); // true
 * ```
 */
export const optional = (rule: Rule): Rule => ({ ...rule, optional: true });

/**
 * The first field of a JSON object that breaks its rules, described; none: undefined. A field
 * the rules do not know is a problem too: a file from a later version is refused, not misread.
 *
 * @example
 * ```ts
 * import { fieldProblem, TEXT } from "./metadata_rules.ts";
 * console.log(fieldProblem({ name: "a", extra: 1 }, { name: TEXT })); // unknown field 'extra'
 * ```
 */
export function fieldProblem(
  value: unknown,
  rules: Readonly<Record<string, Rule>>,
  prefix = "",
): string | undefined {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    return `${prefix ? `'${prefix.slice(0, -1)}'` : "the value"} is not an object`;
  }
  for (const key of Object.keys(value)) {
    if (!Object.hasOwn(rules, key)) return `unknown field '${prefix}${key.slice(0, 100)}'`;
  }
  for (const [key, rule] of Object.entries(rules)) {
    const field = (value as Record<string, unknown>)[key];
    if (field === undefined && rule.optional) continue;
    if (field === undefined) return `field '${prefix}${key}' is missing`;
    if (!rule.ok(field)) {
      const got = JSON.stringify(field)?.slice(0, 100);
      return `field '${prefix}${key}' must be ${rule.what}, got ${got}`;
    }
  }
  return undefined;
}

/**
 * Parses and checks one JSON metadata value; a problem is a `ZooFormatError` naming the file
 * and the key.
 *
 * @example
 * ```ts
 * import { parseField } from "./metadata_rules.ts";
 * const sizes = parseField<number[]>({ sizes: "[1, 2]" }, "sizes", "m.onnx", () => undefined);
 * console.log(sizes); // [ 1, 2 ]
 * ```
 */
export function parseField<T>(
  metadata: Readonly<Record<string, string>>,
  key: string,
  file: string,
  problem: (value: unknown) => string | undefined,
): T {
  const fail = (message: string): never => {
    throw new ZooFormatError(file, `metadata '${key}': ${message}`);
  };
  let value: unknown;
  try {
    value = JSON.parse(metadata[key]);
  } catch (error) {
    fail(`invalid JSON: ${(error as Error).message}`);
  }
  const found = problem(value);
  if (found) fail(found);
  return value as T;
}
