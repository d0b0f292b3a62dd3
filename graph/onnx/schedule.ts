/**
 * The execution schedule an ONNX graph compiles to for one input shape: a flat list of tfjs steps
 * over numbered slots, the constants uploaded into slots, and when each slot is freed. The
 * {@link ScheduleBuilder} emits the steps node by node and moves values between storage layouts.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core";
 * import { useBackend } from "../../runtime/backend.ts";
 * await useBackend("cpu");
 * import { runSchedule } from "./compile.ts";
 * import { ScheduleBuilder, WeightCache } from "./schedule.ts";
 * import type { RuntimeValue } from "./values.ts";
 * const b = new ScheduleBuilder({
 *   file: "x.onnx",
 *   opset: 13,
 *   nodes: [],
 *   inputName: "x",
 *   outputName: "y",
 *   constants: new Map(),
 *   consumers: new Map(),
 *   graphOutputs: new Set(["y"]),
 *   weights: new WeightCache(),
 * });
 * const input = b.newSlot();
 * const x: RuntimeValue = {
 *   kind: "runtime",
 *   slot: input,
 *   shape: [2],
 *   layout: { kind: "perm", perm: [0] },
 * };
 * const y = b.emit([x], [2], x.layout, ([t]) => tf.relu(t));
 * console.log(runSchedule(b.finish(y, input), tf.tensor1d([-1, 2])).arraySync()); // [ 0, 2 ]
 * ```
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs-core";
import type { Tensor } from "../../runtime/tensor.ts";
import type { OnnxNode } from "../../formats/onnx.ts";
import { ZooFormatError } from "../../arch/errors.ts";
import {
  hostForLayout,
  type HostTensor,
  identity,
  onlyMovesUnitAxes,
  permOf,
  type RuntimeValue,
  sameNumbers,
  shapeOf,
  type StorageLayout,
  storedShape,
  type Value,
  viewKey,
} from "./values.ts";

/** One step of a schedule: a tfjs computation from some slots into one. */
export interface ScheduleStep {
  /** The slots it reads. */
  inputs: number[];
  /** The slot it writes. */
  output: number;
  /** Computes the output from the inputs, in order. */
  run(inputs: Tensor[]): Tensor;
}

/** An ONNX graph compiled for one input shape: the steps that compute its output, in order. */
export interface OnnxSchedule {
  /** The steps, in order. */
  steps: ScheduleStep[];
  /** How many slots the steps use. */
  slotCount: number;
  /** The slot of the graph input. */
  inputSlot: number;
  /** The slot of the graph output. */
  outputSlot: number;
  /** Uploaded constants and their slots; they outlive every run. */
  constants: [number, Tensor][];
  /** Slots whose last reader is step i, freed right after it. */
  release: number[][];
}

/** Uploads each host constant once per variant (layout, folding), for the model's lifetime. */
export class WeightCache {
  readonly #byTensor = new WeakMap<HostTensor, Map<string, Tensor>>();
  readonly #all: Tensor[] = [];

  /** The upload of `source` in `variant`, made by `make` the first time. */
  get<T extends Tensor>(source: HostTensor, variant: string, make: () => T): T {
    let variants = this.#byTensor.get(source);
    if (!variants) this.#byTensor.set(source, variants = new Map());
    let tensor = variants.get(variant);
    if (!tensor) {
      tensor = tf.keep(make());
      variants.set(variant, tensor);
      this.#all.push(tensor);
    }
    return tensor as T;
  }

  /** Frees every upload. */
  dispose(): void {
    for (const tensor of this.#all) tensor.dispose();
    this.#all.length = 0;
  }
}

/** What every compilation of one model shares. */
export interface LoadedGraph {
  /** The model's path, named in errors. */
  file: string;
  /** The default domain's opset. */
  opset: number;
  /** The nodes, in file order. */
  nodes: OnnxNode[];
  /** The graph input. */
  inputName: string;
  /** The graph output computed (the first). */
  outputName: string;
  /** Initializers and Constant node outputs. */
  constants: Map<string, HostTensor>;
  /** The nodes reading each value. */
  consumers: Map<string, OnnxNode[]>;
  /** The names of all graph outputs. */
  graphOutputs: Set<string>;
  /** The uploaded constants, shared by the schedules of all input shapes. */
  weights: WeightCache;
}

/** How errors name a node: `node 'name' (OpType` (the caller closes the parenthesis). */
export function nodeLabel(node: OnnxNode): string {
  return `node '${node.name || node.outputs[0]}' (${node.opType}`;
}

/** Builds an {@link OnnxSchedule} for one input shape, node by node. */
export class ScheduleBuilder {
  readonly steps: ScheduleStep[] = [];
  readonly values: Map<string, Value> = new Map();
  readonly absorbed: Set<OnnxNode> = new Set();
  readonly #constants: [number, Tensor][] = [];
  readonly #constantSlots = new Map<Tensor, number>();
  readonly #relayouts = new Map<string, RuntimeValue>();
  #slotCount = 0;

  constructor(readonly graph: LoadedGraph) {}

  /** Throws a ZooFormatError naming the node and the opset. */
  fail(node: OnnxNode, message: string): never {
    throw new ZooFormatError(
      this.graph.file,
      `${nodeLabel(node)}, opset ${this.graph.opset}): ${message}`,
    );
  }

  /** A fresh slot. */
  newSlot(): number {
    return this.#slotCount++;
  }

  /** Appends a step computing a value of ONNX `shape`, stored in `layout`, from `inputs`. */
  emit(
    inputs: RuntimeValue[],
    shape: number[],
    layout: StorageLayout,
    run: (xs: Tensor[]) => Tensor,
  ): RuntimeValue {
    const slot = this.newSlot();
    this.steps.push({ inputs: inputs.map((v) => v.slot), output: slot, run });
    return { kind: "runtime", slot, shape, layout };
  }

  /** A slot holding an uploaded constant. */
  constantValue(tensor: Tensor, shape: number[], layout: StorageLayout): RuntimeValue {
    let slot = this.#constantSlots.get(tensor);
    if (slot === undefined) {
      slot = this.newSlot();
      this.#constantSlots.set(tensor, slot);
      this.#constants.push([slot, tensor]);
    }
    return { kind: "runtime", slot, shape, layout };
  }

  /** A host constant uploaded to broadcast against a rank-`rank` tensor stored with `perm`. */
  upload(t: HostTensor, rank: number, perm: number[]): Tensor {
    return this.graph.weights.get(t, `broadcast:${rank}:${perm}`, () => {
      const aligned = hostForLayout(t, rank, perm);
      return tf.tensor(Float32Array.from(aligned.data), aligned.shape, "float32");
    });
  }

  /** The value as a runtime tensor; constants are uploaded in ONNX order. */
  runtime(value: Value): RuntimeValue {
    if (value.kind === "runtime") return value;
    const rank = value.tensor.shape.length;
    return this.constantValue(this.upload(value.tensor, rank, identity(rank)), value.tensor.shape, {
      kind: "perm",
      perm: identity(rank),
    });
  }

  /** The value stored with `perm`, transposing (once per value and layout) when needed. */
  inLayout(value: Value, perm: number[]): RuntimeValue {
    if (value.kind === "host") {
      const t = value.tensor;
      return this.constantValue(this.upload(t, t.shape.length, perm), t.shape, {
        kind: "perm",
        perm: [...perm],
      });
    }
    const source = value.layout.kind === "hwcFeatures" ? this.#hwcToChw(value) : value;
    const current = permOf(source);
    if (sameNumbers(current, perm)) return source;
    const key = `${viewKey(source)}>${perm}`;
    const cached = this.#relayouts.get(key);
    if (cached) return cached;
    const axes = perm.map((a) => current.indexOf(a));
    const outStored = perm.map((a) => source.shape[a]);
    const result = this.emit(
      [source],
      source.shape,
      { kind: "perm", perm: [...perm] },
      onlyMovesUnitAxes(axes, storedShape(source))
        ? ([x]) => tf.reshape(x, outStored)
        : ([x]) => tf.transpose(x, axes),
    );
    this.#relayouts.set(key, result);
    this.#relayouts.set(`${viewKey(result)}>${current}`, source);
    return result;
  }

  /** The value in ONNX axis order. */
  onnxOrder(value: Value): RuntimeValue {
    return this.inLayout(value, identity(shapeOf(value).length));
  }

  /** The value, with a `perm` layout: as it is, or in ONNX order. */
  permuted(value: Value): RuntimeValue {
    return value.kind === "runtime" && value.layout.kind === "perm" ? value : this.onnxOrder(value);
  }

  #hwcToChw(value: RuntimeValue): RuntimeValue {
    const key = viewKey(value);
    const cached = this.#relayouts.get(key);
    if (cached) return cached;
    const { channels, height, width } = value.layout as Extract<
      StorageLayout,
      { kind: "hwcFeatures" }
    >;
    const n = value.shape[0];
    const result = this.emit(
      [value],
      value.shape,
      { kind: "perm", perm: [0, 1] },
      ([x]) =>
        tf.reshape(
          tf.transpose(tf.reshape(x, [n, height, width, channels]), [0, 3, 1, 2]),
          value.shape,
        ),
    );
    this.#relayouts.set(key, result);
    return result;
  }

  /** The node that alone reads `name`, when `name` is not also a graph output. */
  soleConsumer(name: string): OnnxNode | undefined {
    const readers = this.graph.consumers.get(name) ?? [];
    return readers.length === 1 && !this.graph.graphOutputs.has(name) ? readers[0] : undefined;
  }

  /** Marks nodes whose work another node's step does (fusion) and gives them its value. */
  absorb(nodes: OnnxNode[], value: Value): void {
    for (const node of nodes) {
      this.absorbed.add(node);
      this.values.set(node.outputs[0], value);
    }
  }

  /** A required input. */
  input(node: OnnxNode, inputs: (Value | undefined)[], index: number): Value {
    const value = inputs[index];
    if (!value) this.fail(node, `input #${index} is missing`);
    return value;
  }

  /** An input that must be a constant (initializer, Constant or folded shape computation). */
  hostInput(
    node: OnnxNode,
    inputs: (Value | undefined)[],
    index: number,
    what: string,
  ): HostTensor {
    const value = this.input(node, inputs, index);
    if (value.kind !== "host") {
      this.fail(node, `${what} (input '${node.inputs[index]}') must be a constant, not computed`);
    }
    return value.tensor;
  }

  /**
   * The schedule computing `result` from the input in `inputSlot`: only the steps it depends on,
   * each slot freed after its last reader.
   */
  finish(result: Value, inputSlot: number): OnnxSchedule {
    let output = this.onnxOrder(result);
    if (output.slot === inputSlot || this.#constants.some(([slot]) => slot === output.slot)) {
      output = this.emit([output], output.shape, output.layout, ([x]) => x.clone());
    }
    // Keep only the steps the output depends on.
    const needed = new Set([output.slot]);
    const steps = this.steps.toReversed().filter((step) => {
      if (!needed.has(step.output)) return false;
      step.inputs.forEach((slot) => needed.add(slot));
      return true;
    }).reverse();
    const persistent = new Set([inputSlot, output.slot, ...this.#constants.map(([s]) => s)]);
    const lastUse = new Map<number, number>();
    steps.forEach((step, i) => step.inputs.forEach((slot) => lastUse.set(slot, i)));
    const release = steps.map(() => [] as number[]);
    for (const [slot, i] of lastUse) if (!persistent.has(slot)) release[i].push(slot);
    return {
      steps,
      slotCount: this.#slotCount,
      inputSlot,
      outputSlot: output.slot,
      constants: this.#constants.filter(([slot]) => needed.has(slot)),
      release,
    };
  }
}

/** A node's input values; `undefined` for omitted optional inputs. */
export type Inputs = (Value | undefined)[];

/** Compiles one operator: emits its steps (or folds it on the host) and returns its value. */
export type OpCompiler = (b: ScheduleBuilder, node: OnnxNode, inputs: Inputs) => Value;

/** The values of a node's inputs compiled so far. */
export function nodeInputs(b: ScheduleBuilder, node: OnnxNode): Inputs {
  return node.inputs.map((name) => (name ? b.values.get(name) : undefined));
}
