/**
 * `list [--json]`: the registry's weights, one row each: id, architecture, source format,
 * top-1 accuracy, parameters and label set; `*` marks each architecture's default weights.
 *
 * @example
 * ```ts
 * import { list, LIST } from "./list.ts";
 * import { parseCommand } from "./args.ts";
 * list(parseCommand(LIST, []));
 * // id                 architecture  format       top-1  params      labels
 * // resnet18.tv_in1k   resnet18      pytorch-zip  69.76  11,689,512  imagenet …
 * ```
 *
 * @module
 */

import { type Args, type CommandSpec, JSON_FLAG } from "./flags.ts";
import { DEFAULT_WEIGHTS, REGISTRY, type WeightsEntry } from "../hub/registry.ts";

/**
 * `list` on the command line: flags and examples.
 *
 * @example
 * ```ts
 * import { LIST } from "./list.ts";
 * console.log(LIST.flags.map((f) => f.name)); // [ "json" ]
 * ```
 */
export const LIST = {
  name: "list",
  brief: "the registry's pretrained weights",
  summary: "List the registry's pretrained weights: id, architecture, source format, top-1 " +
    "accuracy, parameters and label set. A * marks each architecture's default weights, which " +
    "the architecture's name alone means (--model resnet50 is resnet50.tv2_in1k).",
  flags: [{ ...JSON_FLAG, meaning: "print the rows as a JSON array (with a `default` field)" }],
  examples: [
    "denozoo list",
    "denozoo list --json     # every row, machine-readable",
  ],
  env: [],
} as const satisfies CommandSpec;

/** The columns `list` shows of an entry. */
function summary(entry: WeightsEntry) {
  return {
    id: entry.id,
    default: DEFAULT_WEIGHTS[entry.architecture] === entry.id,
    architecture: entry.architecture,
    format: entry.sourceFormat,
    top1: entry.metrics.top1 ?? null,
    params: entry.metrics.params ?? null,
    labels: entry.labels,
  };
}

/**
 * Runs `list`.
 *
 * @example
 * ```ts
 * import { parseCommand } from "./args.ts";
 * list(parseCommand(LIST, ["--json"]));
 * // [{ "id": "resnet18.tv_in1k", "architecture": "resnet18", "format": "pytorch-zip", … }, …]
 * ```
 */
export function list(args: Args<typeof LIST>): void {
  const rows = REGISTRY.map(summary);
  if (args.json) {
    console.log(JSON.stringify(rows, null, 2));
    return;
  }
  const header = ["id", "architecture", "format", "top-1", "params", "labels"];
  const cells = rows.map((r) => [
    `${r.id}${r.default ? " *" : ""}`,
    r.architecture,
    r.format,
    r.top1 === null ? "-" : r.top1.toFixed(2),
    r.params === null ? "-" : r.params.toLocaleString("en-US"),
    r.labels,
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i].length)));
  const line = (c: string[]) =>
    c.map((v, i) => (i === 3 || i === 4 ? v.padStart(widths[i]) : v.padEnd(widths[i]))).join("  ")
      .trimEnd();
  console.log(
    [line(header), line(widths.map((w) => "-".repeat(w))), ...cells.map(line)].join("\n"),
  );
}
