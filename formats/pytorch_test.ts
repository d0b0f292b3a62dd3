/**
 * Tests of the restricted unpickler and the PyTorch checkpoint reader, on the real CIFAR-10
 * ResNet checkpoints and on fixtures written by torch 1.13 (testdata/fixtures/pth/generate.py).
 *
 * @module
 */

import { assert, assertAlmostEquals, assertEquals, assertThrows } from "@std/assert";
import { unzipSync, zipSync } from "fflate";
import { type PickleInstance, type PickleValue, readPickle } from "./pickle.ts";
import { type PytorchCheckpoint, readPytorch } from "./pytorch.ts";
import type { NamedTensor } from "./tensor.ts";
import { ZooFormatError } from "../arch/errors.ts";

const cifarDir = new URL("../testdata/cifar10-resnet", import.meta.url).pathname;
const fixtureDir = new URL("../testdata/fixtures/pth/", import.meta.url);

function fixture(name: string): Promise<Uint8Array> {
  return Deno.readFile(new URL(name, fixtureDir));
}

function hex(text: string): Uint8Array {
  return Uint8Array.from(text.match(/../g) ?? [], (byte) => parseInt(byte, 16));
}

function tensorNamed(checkpoint: PytorchCheckpoint, name: string): NamedTensor {
  const tensor = checkpoint.tensors.find((t) => t.name === name);
  if (tensor === undefined) throw new Error(`no tensor ${name}`);
  return tensor;
}

function values(data: NamedTensor["data"]): (number | bigint)[] {
  return [...data as Iterable<number | bigint>];
}

function sum(data: NamedTensor["data"]): number {
  let total = 0;
  for (const value of data) total += Number(value);
  return total;
}

/** Reference values printed by `torch.load(path, map_location="cpu")` with torch 1.13. */
const cifarReferences = [
  {
    file: "resnet20-12fca82f.th",
    count: 97,
    parameters: 271098,
    conv1Sum: 1.3100982000032673,
    conv1First: -0.13818146288394928,
    conv1Last: 0.3087101876735687,
    linearSum: -0.04562738863751292,
    linearLast: 0.22667697072029114,
    linearBias0: 0.19355906546115875,
    runningVar5: 0.058854974806308746,
  },
  {
    file: "resnet32-d509ac18.th",
    count: 157,
    parameters: 466426,
    conv1Sum: 1.961148000027606,
    conv1First: 0.40355396270751953,
    conv1Last: 0.38600531220436096,
    linearSum: 0.0005941537674516439,
    linearLast: -0.33422181010246277,
    linearBias0: 0.1762789636850357,
    runningVar5: 0.07117126137018204,
  },
  {
    file: "resnet44-014dd654.th",
    count: 217,
    parameters: 661754,
    conv1Sum: 1.544271791495703,
    conv1First: 0.06434207409620285,
    conv1Last: 0.002886692062020302,
    linearSum: -0.09602717775851488,
    linearLast: 0.7765446305274963,
    linearBias0: 0.06990382075309753,
    runningVar5: 0.07404865324497223,
  },
  {
    file: "resnet56-4bfd9763.th",
    count: 277,
    parameters: 857082,
    conv1Sum: -2.5577811515686335,
    conv1First: -0.21604876220226288,
    conv1Last: -0.03236684203147888,
    linearSum: -0.008035663631744683,
    linearLast: 0.19989809393882751,
    linearBias0: 0.13465537130832672,
    runningVar5: 0.07667651027441025,
  },
];

for (const reference of cifarReferences) {
  Deno.test(`readPytorch: legacy CIFAR-10 ${reference.file}`, async () => {
    const path = `${cifarDir}/${reference.file}`;
    const checkpoint = readPytorch(await Deno.readFile(path), path);
    assertEquals(checkpoint.format, "legacy");
    const { tensors } = checkpoint;
    assertEquals(tensors.length, reference.count);
    assertEquals(tensors.slice(0, 6).map((t) => t.name), [
      "conv1.weight",
      "bn1.weight",
      "bn1.bias",
      "bn1.running_mean",
      "bn1.running_var",
      "layer1.0.conv1.weight",
    ]);
    assertEquals(tensors.slice(-2).map((t) => t.name), ["linear.weight", "linear.bias"]);
    assert(tensors.every((t) => t.dtype === "float32" && t.data instanceof Float32Array));
    assertEquals(tensors.reduce((n, t) => n + t.data.length, 0), reference.parameters);

    const conv1 = tensorNamed(checkpoint, "conv1.weight");
    assertEquals(conv1.shape, [16, 3, 3, 3]);
    assertEquals(conv1.data[0], reference.conv1First);
    assertEquals(conv1.data[431], reference.conv1Last);
    assertAlmostEquals(sum(conv1.data), reference.conv1Sum, 1e-9);

    const linear = tensorNamed(checkpoint, "linear.weight");
    assertEquals(linear.shape, [10, 64]);
    assertEquals(linear.data[9 * 64 + 63], reference.linearLast);
    assertAlmostEquals(sum(linear.data), reference.linearSum, 1e-9);
    assertEquals(tensorNamed(checkpoint, "linear.bias").data[0], reference.linearBias0);

    const runningVar = tensorNamed(checkpoint, "layer3.2.bn2.running_var");
    assertEquals(runningVar.shape, [64]);
    assertEquals(runningVar.data[5], reference.runningVar5);
  });
}

Deno.test("readPytorch: resnet20 linear.bias and a running_var sum match torch", async () => {
  const path = `${cifarDir}/resnet20-12fca82f.th`;
  const checkpoint = readPytorch(await Deno.readFile(path), path);
  assertEquals(values(tensorNamed(checkpoint, "linear.bias").data), [
    0.19355906546115875,
    -0.3431008756160736,
    0.11120541393756866,
    0.32253673672676086,
    0.14396445453166962,
    -0.180976003408432,
    0.16311383247375488,
    -0.16210909187793732,
    0.02210032008588314,
    -0.27025941014289856,
  ]);
  assertAlmostEquals(
    sum(tensorNamed(checkpoint, "layer3.2.bn2.running_var").data),
    10.665690739639103,
    1e-9,
  );
});

/** The state_dict of generate.py, as the reader must return it from either format. */
function assertTinyStateDict(checkpoint: PytorchCheckpoint): void {
  const expected: [string, NamedTensor["dtype"], number[], ArrayLike<number | bigint>][] = [
    ["conv.weight", "float32", [2, 3, 2, 2], Array.from({ length: 24 }, (_, i) => i * 0.5 - 3)],
    ["conv.bias", "float32", [2], [0.25, -1.5]],
    ["half", "float32", [6], [1.5, -2, 65504, 2 ** -14, 2 ** -24, Infinity]],
    ["bf16", "float32", [4], [1, -3.5, 2 ** -7, 256]],
    ["double", "float32", [3], [Math.fround(0.1), 0, Math.fround(1 / 3)]],
    ["steps", "int64", [3], [-1n, 2n ** 40n, 2n ** 53n + 1n]],
    ["num_batches_tracked", "int64", [], [7n]],
    ["int32", "int32", [2], [-5, 2 ** 31 - 1]],
    ["int16", "int32", [2], [-300, 300]],
    ["int8", "int32", [2], [-128, 127]],
    ["uint8", "uint8", [2], [0, 255]],
    ["mask", "bool", [3], [1, 0, 1]],
    ["transposed", "float32", [3, 2], [0, 3, 1, 4, 2, 5]],
    ["base", "float32", [2, 5], [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]],
    ["slice", "float32", [2, 3], [1, 2, 3, 6, 7, 8]],
    // arange(24).reshape(2, 3, 4).permute(2, 0, 1): element [i, j, k] is j * 12 + k * 4 + i.
    [
      "permuted",
      "float32",
      [4, 2, 3],
      Array.from({ length: 24 }, (_, n) => {
        const [i, j, k] = [Math.floor(n / 6), Math.floor(n / 3) % 2, n % 3];
        return j * 12 + k * 4 + i;
      }),
    ],
  ];
  assertEquals(checkpoint.tensors.map((t) => t.name), expected.map(([name]) => name));
  for (const [name, dtype, shape, data] of expected) {
    const tensor = tensorNamed(checkpoint, name);
    assertEquals([tensor.dtype, tensor.shape], [dtype, shape], name);
    assertEquals(values(tensor.data), Array.from(data), name);
  }
  const arrayTypes = checkpoint.tensors.map((t) => t.data.constructor.name);
  assertEquals(arrayTypes.slice(4, 8), [
    "Float32Array",
    "BigInt64Array",
    "BigInt64Array",
    "Int32Array",
  ]);
  assertEquals(arrayTypes.slice(10, 12), ["Uint8Array", "Uint8Array"]);
}

Deno.test("readPytorch: torch 1.13 zip checkpoint, every dtype and strided views", async () => {
  const checkpoint = readPytorch(await fixture("tiny_zip.pth"), "tiny_zip.pth");
  assertEquals(checkpoint.format, "zip");
  assertTinyStateDict(checkpoint);
});

Deno.test("readPytorch: torch 1.13 legacy checkpoint of the same state_dict", async () => {
  const checkpoint = readPytorch(await fixture("tiny_legacy.pth"), "tiny_legacy.pth");
  assertEquals(checkpoint.format, "legacy");
  assertTinyStateDict(checkpoint);
});

Deno.test("readPytorch: data is copied, never a view into the file", async () => {
  const bytes = await fixture("tiny_zip.pth");
  const { tensors } = readPytorch(bytes, "tiny_zip.pth");
  for (const tensor of tensors) {
    assert(tensor.data.buffer !== bytes.buffer);
    assertEquals(tensor.data.byteOffset, 0);
  }
});

Deno.test("readPytorch: legacy storage views (view_metadata) slice their root", async () => {
  const { tensors } = readPytorch(await fixture("legacy_views.pth"), "legacy_views.pth");
  assertEquals(tensors.map((t) => [t.name, t.shape, values(t.data)]), [
    ["a", [2], [13, 15]],
    ["b", [3], [15, 16, 17]],
  ]);
});

Deno.test("readPytorch: byteorder 'big' zip records are byte-swapped", async () => {
  const { tensors } = readPytorch(await fixture("big_endian.pth"), "big_endian.pth");
  assertEquals(tensors.map((t) => [t.name, t.dtype, values(t.data)]), [
    ["w", "float32", [1.5, -2.25, 3]],
    ["n", "int64", [1n, -2n]],
  ]);
});

Deno.test("readPytorch: TorchScript archives are rejected with a hint", async () => {
  const bytes = await fixture("torchscript.pt");
  assertThrows(() => readPytorch(bytes, "torchscript.pt"), ZooFormatError, "TorchScript archive");
});

const maliciousGlobals = [
  ["os_system", "os.system"],
  ["builtins_eval", "builtins.eval"],
  ["subprocess_popen", "subprocess.Popen"],
  ["posix_system", "posix.system"],
];

for (const [name, global] of maliciousGlobals) {
  Deno.test(`readPickle/readPytorch: refuse ${global}`, async () => {
    const raw = await fixture(`evil_${name}.pkl`);
    assertThrows(() => readPickle(raw, `evil_${name}.pkl`), ZooFormatError, `'${global}'`);
    const archive = await fixture(`evil_${name}.pth`);
    const error = assertThrows(
      () => readPytorch(archive, `evil_${name}.pth`),
      ZooFormatError,
      `refusing global '${global}'`,
    );
    assert(error.message.includes(`evil_${name}.pth`));
  });
}

Deno.test("readPickle: a refused global stops decoding at its own opcode", () => {
  // PROTO 2; BINPERSID of 1; GLOBAL 'builtins getattr'; BINPERSID again; REDUCE; STOP.
  const bytes = new Uint8Array([
    0x80,
    2,
    ...new TextEncoder().encode("cbuiltins\ngetattr\n"),
    0x4b,
    1,
    0x51,
    0x52,
    0x2e,
  ]);
  let resolved = 0;
  assertThrows(
    () => readPickle(bytes, "x.pkl", { persistentLoad: () => ++resolved }),
    ZooFormatError,
    "x.pkl: pickle offset 2: refusing global 'builtins.getattr'",
  );
  assertEquals(resolved, 0);
});

Deno.test("readPickle: the same value from protocols 0, 2 and 5", () => {
  // pickle.dumps({'a': [1, -2, 2.5, 'xé', None, True, False], 'b': (3, 2**70, -2**63),
  //               'c': b'\x00\xff'}, protocol=p)
  const pickles = [
    "286470300a56610a70310a286c70320a49310a61492d320a6146322e350a615678e90a70330a614e614930310a" +
    "614930300a617356620a70340a2849330a4c313138303539313632303731373431313330333432344c0a4c2d39" +
    "3232333337323033363835343737353830384c0a7470350a7356630a70360a635f636f646563730a656e636f64" +
    "650a70370a28565c7530303030ff0a70380a566c6174696e310a70390a747031300a527031310a732e",
    "80027d71002858010000006171015d7102284b014afeffffff474004000000000000580300000078c3a971034e" +
    "88896558010000006271044b038a090000000000000000408a0800000000000000808771055801000000637106" +
    "635f636f646563730a656e636f64650a7107580300000000c3bf710858060000006c6174696e31710986710a52" +
    "710b752e",
    "8005954c000000000000007d94288c0161945d94284b014afeffffff4740040000000000008c0378c3a9944e88" +
    "89658c0162944b038a090000000000000000408a08000000000000008087948c016394430200ff94752e",
  ];
  for (const text of pickles) {
    const bytes = hex(text);
    const { value, end } = readPickle(bytes, "p.pkl");
    assertEquals(end, bytes.length);
    assertEquals(
      value,
      new Map<PickleValue, PickleValue>([
        ["a", [1, -2, 2.5, "xé", null, true, false]],
        ["b", [3, 2n ** 70n, -(2n ** 63n)]],
        ["c", new Uint8Array([0, 255])],
      ]),
    );
  }
});

Deno.test("readPickle: sets, OrderedDict, quoted STRING and offsets", () => {
  // pickle.dumps({frozenset([1]), 2}, protocol=4)
  assertEquals(
    readPickle(hex("8004950c000000000000008f9428284b0191944b02902e"), "s.pkl").value,
    new Set<PickleValue>([new Set<PickleValue>([1]), 2]),
  );
  // pickle.dumps(OrderedDict([('k', 1)]), protocol=0)
  assertEquals(
    readPickle(
      new TextEncoder().encode("ccollections\nOrderedDict\np0\n(tRp1\nVk\np2\nI1\ns."),
      "o",
    )
      .value,
    new Map([["k", 1]]),
  );
  assertEquals(
    readPickle(new TextEncoder().encode("S'it\\'s\\x41\\n'\n."), "q").value,
    "it'sA\n",
  );
  // Two pickles back to back: the second starts at the first's end.
  const twice = hex("80024b072e80024b092e");
  const first = readPickle(twice, "two");
  assertEquals([first.value, first.end], [7, 5]);
  assertEquals(readPickle(twice, "two", { offset: first.end }).value, 9);
});

Deno.test("readPickle: malformed pickles name the opcode and offset", () => {
  assertThrows(
    () => readPickle(new Uint8Array([0x80, 2, 0xff]), "u.pkl"),
    ZooFormatError,
    "u.pkl: pickle offset 2: unknown pickle opcode 0xff",
  );
  assertThrows(
    () => readPickle(hex("80025805000000616263"), "t.pkl"),
    ZooFormatError,
    "pickle offset 2: truncated",
  );
  assertThrows(() => readPickle(hex("80024b01854b02612e"), "a.pkl"), ZooFormatError, "not a list");
  assertThrows(() => readPickle(hex("800268052e"), "m.pkl"), ZooFormatError, "memo entry 5");
  assertThrows(() => readPickle(hex("8002742e"), "k.pkl"), ZooFormatError, "no MARK");
  const rejectingLoad = {
    persistentLoad: (): PickleValue => {
      throw new TypeError("bad id");
    },
  };
  assertThrows(
    () => readPickle(hex("80024b01512e"), "p.pkl", rejectingLoad),
    ZooFormatError,
    "p.pkl: pickle offset 4: persistent id: bad id",
  );
  // OrderedDict(5): the handler's complaint comes back with the REDUCE offset.
  assertThrows(
    () => readPickle(hex("800263636f6c6c656374696f6e730a4f726465726564446963740a4b0585522e"), "r"),
    ZooFormatError,
    "pickle offset 30: 'collections.OrderedDict': OrderedDict argument is not a list of pairs",
  );
  assertThrows(
    () => readPickle(hex("8002950800000000000000"), "f.pkl"),
    ZooFormatError,
    "frame of 8 bytes runs past the end",
  );
});

Deno.test("readPytorch: files that are not torch checkpoints", () => {
  const notTorch = [
    new Uint8Array(0),
    new TextEncoder().encode("ir_version: 8 — an ONNX text dump"),
    hex("80024b072e"),
  ];
  for (const bytes of notTorch) {
    assertThrows(() => readPytorch(bytes, "x.bin"), ZooFormatError, "not a PyTorch checkpoint");
  }
  assertThrows(
    () => readPytorch(zipSync({ "a/b.txt": new Uint8Array(3) }), "x.zip"),
    ZooFormatError,
    "x.zip: zip archive has no '<archive>/data.pkl'",
  );
});

Deno.test("readPytorch: truncated files and missing storage records", async () => {
  const legacy = await Deno.readFile(`${cifarDir}/resnet20-12fca82f.th`);
  assertThrows(
    () => readPytorch(legacy.subarray(0, legacy.length - 100), "r20.th"),
    ZooFormatError,
    "(truncated)",
  );
  assertThrows(() => readPytorch(legacy.subarray(0, 5000), "r20.th"), ZooFormatError, "truncated");

  const zip = await fixture("tiny_zip.pth");
  assertThrows(() => readPytorch(zip.subarray(0, zip.length - 30), "z.pth"), ZooFormatError, "zip");

  const entries = unzipSync(zip);
  const withoutRecord = { ...entries };
  delete withoutRecord["tiny_zip/data/3"];
  assertThrows(
    () => readPytorch(zipSync(withoutRecord), "z.pth"),
    ZooFormatError,
    "missing storage record '3'",
  );
  const shortRecord = { ...entries, "tiny_zip/data/0": entries["tiny_zip/data/0"].subarray(0, 8) };
  assertThrows(
    () => readPytorch(zipSync(shortRecord), "z.pth"),
    ZooFormatError,
    "tensor 'conv.weight': storage '0' has 8 bytes, expected 96",
  );
});

Deno.test("readPickle: data-only globals training scripts save become plain data", () => {
  // pickle.dumps({'args': Namespace(lr=0.1, steps=[10]), 'ms': Counter({10: 1, 20: 1}),
  //   'd': defaultdict(list, {'a': [1]}), 'acc': np.float64(93.5), 'n': np.int64(7),
  //   'f': np.float32(0.5), 's': {3}, 'p': PurePosixPath('out/run1')}, protocol=2)
  const bytes = hex(
    "80027d71002858040000006172677371016361726770617273650a4e616d6573706163650a7102298171037d71" +
      "042858020000006c727105473fb999999999999a5805000000737465707371065d71074b0a6175625802000000" +
      "6d73710863636f6c6c656374696f6e730a436f756e7465720a71097d710a284b0a4b014b144b017585710b5271" +
      "0c580100000064710d63636f6c6c656374696f6e730a64656661756c74646963740a710e635f5f6275696c7469" +
      "6e5f5f0a6c6973740a710f85711052711158010000006171125d71134b01617358030000006163637114636e75" +
      "6d70792e636f72652e6d756c746961727261790a7363616c61720a7115636e756d70790a64747970650a711658" +
      "02000000663871178988877118527119284b0358010000003c711a4e4e4e4affffffff4affffffff4b0074711b" +
      "62635f636f646563730a656e636f64650a711c58080000000000000000605740711d58060000006c6174696e31" +
      "711e86711f52712086712152712258010000006e7123681568165802000000693871248988877125527126284b" +
      "03681a4e4e4e4affffffff4affffffff4b0074712762681c580800000007000000000000007128681e86712952" +
      "712a86712b52712c580100000066712d6815681658020000006634712e898887712f527130284b03681a4e4e4e" +
      "4affffffff4affffffff4b0074713162681c58040000000000003f7132681e8671335271348671355271365801" +
      "000000737137635f5f6275696c74696e5f5f0a7365740a71385d71394b036185713a52713b580100000070713c" +
      "63706174686c69620a50757265506f736978506174680a713d58030000006f7574713e580400000072756e3171" +
      "3f867140527141752e",
  );
  const value = readPickle(bytes, "train.pkl").value as Map<PickleValue, PickleValue>;
  const args = value.get("args") as PickleInstance;
  assertEquals(args.className, "argparse.Namespace");
  assertEquals(args.state, new Map<PickleValue, PickleValue>([["lr", 0.1], ["steps", [10]]]));
  assertEquals(value.get("ms"), new Map([[10, 1], [20, 1]]));
  assertEquals(value.get("d"), new Map<PickleValue, PickleValue>([["a", [1]]]));
  assertEquals([value.get("acc"), value.get("n"), value.get("f")], [93.5, 7, 0.5]);
  assertEquals(value.get("s"), new Set([3]));
  assertEquals(value.get("p"), "out/run1");
  // A builtin type may be referenced (a defaultdict's factory), never called.
  const call = new TextEncoder().encode("c__builtin__\nlist\n(tR.");
  assertThrows(
    () => readPickle(call, "c.pkl"),
    ZooFormatError,
    "'builtins.list' may not be called",
  );
});
