/**
 * `list [--json]`: the registry's weights, one row each: id, architecture, source format,
 * top-1 accuracy, parameters and label set.
 *
 * @example
 * ```ts
 * import { list } from "./list.ts";
 * import { parseArgv } from "./args.ts";
 * list(parseArgv(["list"]));
 * // id                 architecture  format       top-1  params      labels
 * // resnet18.tv_in1k   resnet18      pytorch-zip  69.76  11,689,512  imagenet …
 * ```
 *
 * @module
 */

import type { Args } from "./args.ts";
import { REGISTRY, type WeightsEntry } from "../hub/registry.ts";

/** The columns `list` shows of an entry. */
function summary(entry: WeightsEntry) {
  return {
    id: entry.id,
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
 * import { parseArgv } from "./args.ts";
 * list(parseArgv(["list", "--json"]));
 * // [{ "id": "resnet18.tv_in1k", "architecture": "resnet18", "format": "pytorch-zip", … }, …]
 * ```
 */
export function list(args: Args): void {
  const rows = REGISTRY.map(summary);
  if (args.json) {
    console.log(JSON.stringify(rows, null, 2));
    return;
  }
  const header = ["id", "architecture", "format", "top-1", "params", "labels"];
  const cells = rows.map((r) => [
    r.id,
    r.architecture,
    r.format,
    r.top1 === null ? "-" : r.top1.toFixed(2),
    r.params === null ? "-" : r.params.toLocaleString("en-US"),
    r.labels,
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i].length)));
  const line = (c: string[]) =>
    c.map((v, i) => (i === 3 || i === 4 ? v.padStart(widths[i]) : v.padEnd(widths[i]))).join("  ");
  console.log(
    [line(header), line(widths.map((w) => "-".repeat(w))), ...cells.map(line)].join("\n"),
  );
}
