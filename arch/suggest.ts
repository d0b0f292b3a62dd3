/**
 * "Did you mean …": the known names closest to a mistyped one, by edit distance. One function
 * serves every place a user types a name: registry ids and architectures (`pipelines/resolve.ts`,
 * `hub/registry.ts`), command-line flags and commands (`cli/`).
 *
 * @example
 * ```ts
 * import { closestNames } from "./suggest.ts";
 * console.log(closestNames("--modle", ["--model", "--top", "--json"])); // [ "--model" ]
 * ```
 *
 * @module
 */

/**
 * Edit distance: the fewest insertions, deletions, substitutions and swaps of two neighbouring
 * characters that turn `a` into `b` (a swapped pair is the commonest typo: `resnet05`).
 *
 * @example
 * ```ts
 * console.log(editDistance("resnt50", "resnet50"), editDistance("resnet05", "resnet50")); // 1 1
 * ```
 */
export function editDistance(a: string, b: string): number {
  // Rows i-2, i-1 and i of the table of distances between prefixes.
  let before: number[] = [];
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      let best = Math.min(
        previous[j] + 1,
        current[j - 1] + 1,
        previous[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1),
      );
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        best = Math.min(best, before[j - 2] + 1);
      }
      current.push(best);
    }
    before = previous;
    previous = current;
  }
  return previous[b.length];
}

/** Options of {@link closestNames}. */
export interface ClosestNamesOptions {
  /** The most names returned (default 3). */
  limit?: number;
  /**
   * The largest distance still worth suggesting (default: a third of the typed name's length,
   * at least 2), so that a name unlike every known one gets no suggestion rather than a
   * random one.
   */
  maxDistance?: number;
}

/**
 * The known names nearest to `typed` (case-insensitive), nearest first; a known name that
 * starts with what was typed counts as near (`resnet5` → `resnet50`). Ties keep the order of
 * `known`.
 *
 * @example
 * ```ts
 * const architectures = ["resnet18", "resnet50", "resnet101", "cifar_resnet20"];
 * console.log(closestNames("resnt50", architectures)); // [ "resnet50" ]
 * console.log(closestNames("vgg16", architectures)); // []
 * ```
 */
export function closestNames(
  typed: string,
  known: Iterable<string>,
  options: ClosestNamesOptions = {},
): string[] {
  const wanted = typed.toLowerCase();
  const maxDistance = options.maxDistance ?? Math.max(2, Math.floor(wanted.length / 3));
  return [...new Set(known)]
    .map((name) => {
      const lower = name.toLowerCase();
      const distance = wanted.length >= 3 && lower.startsWith(wanted)
        ? 1
        : editDistance(wanted, lower);
      return { name, distance };
    })
    .filter(({ distance }) => distance <= maxDistance)
    .sort((a, b) => a.distance - b.distance)
    .slice(0, options.limit ?? 3)
    .map(({ name }) => name);
}

/**
 * ` (did you mean a or b?)` for the names nearest to `typed`, or `""` when none is near: the
 * tail of an error message.
 *
 * @example
 * ```ts
 * console.log(`unknown flag --modle${didYouMean("--modle", ["--model", "--top"])}`);
 * // unknown flag --modle (did you mean --model?)
 * ```
 */
export function didYouMean(
  typed: string,
  known: Iterable<string>,
  options: ClosestNamesOptions = {},
): string {
  const names = closestNames(typed, known, options);
  if (names.length === 0) return "";
  const listed = names.length === 1
    ? names[0]
    : `${names.slice(0, -1).join(", ")} or ${names[names.length - 1]}`;
  return ` (did you mean ${listed}?)`;
}
