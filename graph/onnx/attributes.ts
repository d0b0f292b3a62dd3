/**
 * Reading a node's attributes with their expected kinds, and the arguments that older opsets give
 * as attributes and newer ones as constant inputs; a wrong kind fails naming the node.
 *
 * @example
 * ```ts
 * import { numberAttr } from "./attributes.ts";
 * import { ScheduleBuilder, WeightCache } from "./schedule.ts";
 * const node = {
 *   name: "c",
 *   opType: "Concat",
 *   domain: "",
 *   inputs: [],
 *   outputs: ["y"],
 *   attributes: { axis: 1 },
 * };
 * const b = new ScheduleBuilder({
 *   file: "x.onnx",
 *   opset: 13,
 *   nodes: [node],
 *   inputName: "x",
 *   outputName: "y",
 *   constants: new Map(),
 *   consumers: new Map(),
 *   graphOutputs: new Set(["y"]),
 *   weights: new WeightCache(),
 * });
 * console.log(numberAttr(b, node, "axis", 0), numberAttr(b, node, "missing", 7)); // 1 7
 * ```
 *
 * @module
 */

import type { OnnxAttribute, OnnxNode } from "../../formats/onnx.ts";
import type { Inputs, ScheduleBuilder } from "./schedule.ts";
import type { HostTensor } from "./values.ts";

function attributeOf(
  b: ScheduleBuilder,
  node: OnnxNode,
  name: string,
  kind: "number" | "numbers" | "string",
): OnnxAttribute | undefined {
  const value = node.attributes[name];
  if (value === undefined) return undefined;
  const ok = kind === "number"
    ? typeof value === "number"
    : kind === "string"
    ? typeof value === "string"
    : Array.isArray(value) && value.every((v) => typeof v === "number");
  if (!ok) {
    b.fail(node, `attribute '${name}' should be ${kind === "numbers" ? "a list" : `a ${kind}`}`);
  }
  return value;
}

/** A number attribute, or `fallback` when the node has none. */
export function numberAttr(
  b: ScheduleBuilder,
  node: OnnxNode,
  name: string,
  fallback: number,
): number {
  return (attributeOf(b, node, name, "number") as number | undefined) ?? fallback;
}

/** A list-of-numbers attribute, if the node has one. */
export function numbersAttr(
  b: ScheduleBuilder,
  node: OnnxNode,
  name: string,
): number[] | undefined {
  return attributeOf(b, node, name, "numbers") as number[] | undefined;
}

/** A string attribute, or `fallback` when the node has none. */
export function stringAttr(
  b: ScheduleBuilder,
  node: OnnxNode,
  name: string,
  fallback: string,
): string {
  return (attributeOf(b, node, name, "string") as string | undefined) ?? fallback;
}

/** Integers given as an attribute (older opsets) or as a constant input (newer ones). */
export function intsFromAttrOrInput(
  b: ScheduleBuilder,
  node: OnnxNode,
  inputs: Inputs,
  attr: string,
  index: number,
): number[] | undefined {
  if (inputs[index]) return Array.from(b.hostInput(node, inputs, index, attr).data);
  return numbersAttr(b, node, attr);
}

/** An axis in `[-rank, rank)` as a non-negative index. */
export function normalizeAxis(
  b: ScheduleBuilder,
  node: OnnxNode,
  axis: number,
  rank: number,
): number {
  if (axis < -rank || axis >= rank) b.fail(node, `axis ${axis} is out of range for rank ${rank}`);
  return axis < 0 ? axis + rank : axis;
}

/** The one element of a host tensor. */
export function scalarOf(b: ScheduleBuilder, node: OnnxNode, t: HostTensor, what: string): number {
  if (t.data.length !== 1) b.fail(node, `${what} should be a scalar, got shape [${t.shape}]`);
  return t.data[0];
}
