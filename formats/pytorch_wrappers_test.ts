import { assertEquals } from "@std/assert";
import { describeStateDict, findStateDict } from "./pytorch_wrappers.ts";

const T = { tensor: true };
const isTensor = (v: unknown): v is typeof T => v === T;
const dict = (entries: [string, unknown][]) => new Map<unknown, unknown>(entries);
const weights = (prefix = "") =>
  dict([[`${prefix}conv1.weight`, T], [`${prefix}bn1.running_mean`, T], [`${prefix}fc.bias`, T]]);
const names = ["conv1.weight", "bn1.running_mean", "fc.bias"];

Deno.test("a bare state_dict is used as it is, with nothing to say", () => {
  const found = findStateDict(weights(), isTensor)!;
  assertEquals(found.entries.map(([k]) => k), names);
  assertEquals([found.path, found.prefix, found.ignored], [[], "", []]);
  assertEquals(describeStateDict(found), "");
});

Deno.test("every wrapper key training scripts use is unwrapped, once or twice, prefixes stripped", () => {
  const cases: [Map<unknown, unknown>, string[], string][] = [
    [dict([["net", weights("module.")], ["acc", 93.0], ["epoch", 199]]), ["net"], "module."],
    [dict([["state", weights()], ["acc", T], ["epoch", 1]]), ["state"], ""],
    [
      dict([["model_state_dict", weights()], [
        "optimizer_state_dict",
        dict([["state", dict([])]]),
      ]]),
      [
        "model_state_dict",
      ],
      "",
    ],
    [
      dict([["state_dict", weights("model.")], ["hyper_parameters", dict([])]]),
      ["state_dict"],
      "model.",
    ],
    [dict([["checkpoint", null], ["state", dict([["model", weights("module._orig_mod.")]])]]), [
      "state",
      "model",
    ], "module._orig_mod."],
  ];
  for (const [checkpoint, path, prefix] of cases) {
    const found = findStateDict(checkpoint, isTensor)!;
    assertEquals(found.entries.map(([k]) => k), names);
    assertEquals([found.path, found.prefix, found.ema], [path, prefix, false]);
  }
});

Deno.test("an EMA copy is used only when it is the only one, and either way it is told", () => {
  const ema = weights("module.");
  ema.set("n_averaged", T);
  const both = findStateDict(
    dict([["model", weights()], ["model_ema", ema], ["epoch", 3]]),
    isTensor,
  )!;
  assertEquals([both.path, both.ema, both.otherEma], [["model"], false, ["model_ema"]]);
  assertEquals(
    describeStateDict(both),
    "weights from checkpoint['model'] (an EMA copy is also in the file, unused: " +
      "checkpoint['model_ema']); also in the file, unused: epoch",
  );
  const only = findStateDict(dict([["model_ema", ema], ["epoch", 3]]), isTensor)!;
  assertEquals([only.path, only.ema, only.prefix], [["model_ema"], true, "module."]);
  assertEquals(only.entries.map(([k]) => k), names);
  assertEquals(only.ignored, ["epoch", "model_ema.n_averaged"]);
});

Deno.test("no dict of tensors anywhere: nothing found", () => {
  assertEquals(
    findStateDict(dict([["epoch", 3], ["model", dict([["lr", 0.1]])]]), isTensor),
    undefined,
  );
  assertEquals(findStateDict([T], isTensor), undefined);
});
