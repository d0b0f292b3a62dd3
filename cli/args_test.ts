import { assertEquals, assertThrows } from "@std/assert";
import { outputFolderExists, parseCommand, UsageError } from "./args.ts";
import { CLASSIFY } from "./classify.ts";
import { CONVERT } from "./convert.ts";
import { LIST } from "./list.ts";
import { PREDICT } from "./predict.ts";

Deno.test("flags are read as the command's table says: values typed, defaults filled", () => {
  const args = parseCommand(CLASSIFY, ["a.jpg", "--top=3", "-m", "resnet50", "b.jpg", "--json"]);
  assertEquals(args.operands, ["a.jpg", "b.jpg"]);
  assertEquals([args.top, args.batch, args.model, args.json], [3, 16, "resnet50", true]);
  assertEquals([args.engine, args.backend, args.labels], [undefined, undefined, undefined]);
  assertEquals([args.help, args.verbose, args.version], [false, false, false]);
  // `--` ends the flags: a file may start with a dash.
  assertEquals(parseCommand(CLASSIFY, ["--", "-odd.jpg"]).operands, ["-odd.jpg"]);
  // An alias names the same flag.
  assertEquals(
    parseCommand(PREDICT, ["--model", "m", "--input", "x", "--output", "y"]).weights,
    "m",
  );
});

Deno.test("unknown flags and stray operands are usage errors with a suggestion", () => {
  const cases: [typeof CLASSIFY | typeof LIST, string[], string][] = [
    [
      CLASSIFY,
      ["cat.jpg", "--modle", "x"],
      "unknown flag --modle for classify (did you mean --model?)",
    ],
    [
      CLASSIFY,
      ["cat.jpg", "-j"],
      "unknown flag -j for classify (did you mean --json or --json-array?)",
    ],
    [LIST, ["--jsn"], "unknown flag --jsn for list (did you mean --json?)"],
    [LIST, ["resnet50"], "list takes no operands, got 'resnet50'"],
    [CLASSIFY, [], "classify needs IMAGE…"],
    [CLASSIFY, ["a.jpg", "--top", "3", "--top", "4"], "--top is given twice"],
    [CLASSIFY, ["a.jpg", "--json=yes"], "--json takes no value, got '--json=yes'"],
    [CLASSIFY, ["a.jpg", "--model"], "--model needs a value (NAME)"],
    [CLASSIFY, ["a.jpg", "--model", "--json"], "--model needs a value (NAME)"],
  ];
  for (const [spec, argv, message] of cases) {
    const error = assertThrows(() => parseCommand(spec, argv), UsageError);
    assertEquals(error.message, message);
  }
});

Deno.test("values are validated with messages that quote the value", () => {
  const cases: [string[], string][] = [
    [["--top", "-3"], "--top must be a positive integer, got '-3'"],
    [["--top", "three"], "--top must be a positive integer, got 'three'"],
    [["--batch", "1.5"], "--batch must be a positive integer, got '1.5'"],
    [["--threads", "9"], "--threads must be an integer from 1 to 8, got '9'"],
    [
      ["--backend", "gpu"],
      "--backend must be one of auto, webgpu, wasm, cpu, got 'gpu' (did you mean cpu?)",
    ],
    [["--engine", "ort"], "--engine must be one of auto, tfjs, onnxruntime, got 'ort'"],
    [["--model="], "--model needs a value (NAME), got ''"],
    [
      ["--preprocess", "cifar10_raw"],
      "--preprocess must be one of TORCHVISION_V1, TORCHVISION_V2, KERAS_CAFFE, KERAS_TF, " +
      "CIFAR10_TORCH, CIFAR10_RAW, TIMM_CROP_875, TIMM_CROP_95, TIMM_256_CROP_95, TF_OFFICIAL, " +
      "got 'cifar10_raw' (did you mean CIFAR10_RAW?)",
    ],
  ];
  for (const [flags, message] of cases) {
    const error = assertThrows(() => parseCommand(CLASSIFY, ["a.jpg", ...flags]), UsageError);
    assertEquals(error.message, message);
  }
});

Deno.test("required flags and operands are required, except for --help and --version", () => {
  assertThrows(() => parseCommand(CONVERT, ["a.pth"]), UsageError, "convert needs --out PATH");
  assertThrows(
    () => parseCommand(CONVERT, ["a.pth", "b.pth", "--out", "x"]),
    UsageError,
    "convert takes one SRC, got also 'b.pth'",
  );
  assertEquals(parseCommand(CONVERT, ["--help"]).help, true);
  assertEquals(parseCommand(PREDICT, ["--version"]).version, true);
});

Deno.test("an output in a folder that does not exist is refused, naming the folder", async () => {
  await outputFolderExists("y.npy", "output");
  const dir = await Deno.makeTempDir();
  try {
    await outputFolderExists(`${dir}/y.npy`, "output");
    const error = await outputFolderExists(`${dir}/missing/y.npy`, "output").then(
      () => undefined,
      (e: Error) => e,
    );
    assertEquals(error instanceof Deno.errors.NotFound, true);
    assertEquals(
      error?.message,
      `--output ${dir}/missing/y.npy: the folder ${dir}/missing does not exist (create it first)`,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
