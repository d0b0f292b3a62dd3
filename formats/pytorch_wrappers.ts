/**
 * Where a `torch.save` checkpoint keeps its weights. Training scripts rarely save a bare
 * state_dict: they wrap it with the optimizer, the epoch and the accuracy (`{'net': …, 'acc': …}`
 * in kuangliu's pytorch-cifar, `{'model_state_dict': …, 'optimizer_state_dict': …}` in PyTorch's
 * tutorial, `{'model', 'optimizer', 'lr_scheduler', 'args', 'epoch'}` in torchvision's reference
 * scripts, `{'state_dict': …}` in Lightning), prefix the keys (`module.` from DataParallel,
 * `model.` from a wrapping module, `_orig_mod.` from torch.compile), and keep EMA copies beside
 * them. This finds the state_dict, says which entry it used and lists what it left aside.
 *
 * @example
 * ```ts
 * import { findStateDict } from "./pytorch_wrappers.ts";
 * const weights = new Map([["module.fc.weight", { kind: "tensor" }]]);
 * const checkpoint = new Map<unknown, unknown>([["net", weights], ["acc", 93.1], ["epoch", 200]]);
 * const found = findStateDict(checkpoint, (v) => (v as { kind?: string })?.kind === "tensor");
 * console.log(found?.path, found?.prefix, found?.ignored); // [ "net" ] module. [ "acc", "epoch" ]
 * console.log(found?.entries.map(([name]) => name)); // [ "fc.weight" ]
 * ```
 *
 * @module
 */

/** The dict keys that hold a model's weights, in order of preference. */
export const WEIGHT_KEYS: readonly string[] = [
  "state_dict",
  "model_state_dict",
  "model",
  "net",
  "state",
  "network",
  "model_state",
  "weights",
  "params",
];

/** The dict keys of EMA (exponential moving average) copies, used only when nothing else is there. */
export const EMA_KEYS: readonly string[] = [
  "model_ema",
  "state_dict_ema",
  "ema_state_dict",
  "ema",
  "ema_model",
  "model_ema_state_dict",
];

/** Key prefixes that wrap every key of a state_dict. */
const PREFIXES = ["module.", "model.", "_orig_mod."];

/** The state_dict found in a checkpoint. */
export interface FoundStateDict<T> {
  /** Its weights, by their names with wrapping prefixes removed, in stored order. */
  entries: [string, T][];
  /** The keys leading to it from the top (empty: the checkpoint is the state_dict). */
  path: string[];
  /** The prefix removed from every key (`module.`, `module.model.`, …), or "". */
  prefix: string;
  /** Whether it is an EMA copy. */
  ema: boolean;
  /** EMA copies beside it that were not used, by their path. */
  otherEma: string[];
  /** What else the checkpoint holds, beside the weights: entry names along the path, and non-tensor entries of the state_dict. */
  ignored: string[];
}

type Dict = Map<unknown, unknown>;

/** The tensors of a dict under string keys. */
const tensorsOf = (dict: Dict, isTensor: (v: unknown) => boolean) =>
  [...dict].filter(([key, value]) => typeof key === "string" && isTensor(value)) as [
    string,
    unknown,
  ][];

/**
 * Finds the state_dict in an unpickled checkpoint: the top dict when no wrapper key holds a dict,
 * else the first of {@link WEIGHT_KEYS} (then of {@link EMA_KEYS}) that leads, once or twice
 * nested, to a dict of tensors. Returns undefined when no dict holds a tensor.
 */
export function findStateDict<T>(
  value: unknown,
  isTensor: (v: unknown) => v is T,
): FoundStateDict<T> | undefined;
/** Finds the state_dict (see the first overload) with a test that does not narrow the type. */
export function findStateDict(
  value: unknown,
  isTensor: (v: unknown) => boolean,
): FoundStateDict<unknown> | undefined;
export function findStateDict(
  value: unknown,
  isTensor: (v: unknown) => boolean,
): FoundStateDict<unknown> | undefined {
  if (!(value instanceof Map)) return undefined;
  const search = (
    dict: Dict,
    path: string[],
    depth: number,
  ): FoundStateDict<unknown> | undefined => {
    const wrappers = [...WEIGHT_KEYS, ...EMA_KEYS].filter((key) => dict.get(key) instanceof Map);
    if (wrappers.length === 0 || depth === 3) {
      return tensorsOf(dict, isTensor).length > 0 ? unprefixed(dict, path, isTensor) : undefined;
    }
    for (const key of wrappers) {
      const found = search(dict.get(key) as Dict, [...path, key], depth + 1);
      if (!found) continue;
      const ema = found.ema || EMA_KEYS.includes(key);
      const others = wrappers.filter((k) => EMA_KEYS.includes(k) && k !== key);
      const left = [...dict.keys()].filter((k) => k !== key).map(String);
      return {
        ...found,
        ema,
        otherEma: [...others.map((k) => [...path, k].join(".")), ...found.otherEma],
        ignored: [...left.map((k) => [...path, k].join(".")), ...found.ignored],
      };
    }
    return tensorsOf(dict, isTensor).length > 0 ? unprefixed(dict, path, isTensor) : undefined;
  };
  return search(value, [], 0);
}

/** A state_dict's tensors with the prefix every weight shares removed; scalars without a module (AveragedModel's `n_averaged`) and non-tensors left aside. */
function unprefixed(
  dict: Dict,
  path: string[],
  isTensor: (v: unknown) => boolean,
): FoundStateDict<unknown> {
  const tensors = tensorsOf(dict, isTensor);
  const weights = tensors.filter(([key]) => key.includes("."));
  const kept = weights.length > 0 ? weights : tensors;
  const ignored = [...dict.keys()]
    .filter((key) => !kept.some(([k]) => k === key))
    .map((key) => [...path, String(key)].join("."));
  let prefix = "";
  for (;;) {
    const next = PREFIXES.find((p) =>
      kept.every(([key]) => key.startsWith(prefix + p) && key.length > (prefix + p).length)
    );
    if (!next) break;
    prefix += next;
  }
  return {
    entries: kept.map(([key, tensor]) => [key.slice(prefix.length), tensor]),
    path,
    prefix,
    ema: false,
    otherEma: [],
    ignored,
  };
}

/**
 * One sentence on where the weights came from, for a user reading `convert`'s report; empty for
 * a bare state_dict.
 *
 * @example
 * ```ts
 * import { describeStateDict } from "./pytorch_wrappers.ts";
 * const found = { entries: [], path: ["model"], prefix: "", ema: false, otherEma: ["model_ema"], ignored: ["optimizer", "epoch"] };
 * console.log(describeStateDict(found));
 * // weights from checkpoint['model'] (an EMA copy is also in the file, unused: checkpoint['model_ema']); also in the file, unused: optimizer, epoch
 * ```
 */
export function describeStateDict(found: FoundStateDict<unknown>): string {
  if (found.path.length === 0 && !found.prefix && found.ignored.length === 0) return "";
  const at = (path: string[]) => `checkpoint${path.map((k) => `['${k}']`).join("")}`;
  const parts = [
    found.path.length > 0
      ? `weights from ${at(found.path)}${
        found.ema ? " (an EMA copy: the only weights in the file)" : ""
      }`
      : "weights from the checkpoint's top level",
  ];
  if (found.prefix) parts[0] += `, '${found.prefix}' stripped from every key`;
  if (found.otherEma.length > 0) {
    parts[0] += ` (an EMA copy is also in the file, unused: ${
      found.otherEma.map((p) => at(p.split("."))).join(", ")
    })`;
  }
  const unused = found.ignored.filter((k) => !found.otherEma.includes(k));
  if (unused.length > 0) {
    parts.push(
      `also in the file, unused: ${unused.slice(0, 12).join(", ")}${
        unused.length > 12 ? ", …" : ""
      }`,
    );
  }
  return parts.join("; ");
}
