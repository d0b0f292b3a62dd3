/**
 * The command line as a new user meets it, each case a real `deno run cli.ts` (issue 14,
 * items 5, 6, 7 and 9): what it refuses and how (exit code 2 for a usage mistake, 1 for the
 * rest, one line on stderr), what it suggests, its help and version, names resolved like timm's,
 * label files and class names, offline and cache messages; and that a refused command writes
 * nothing.
 */

import { assert, assertEquals, assertStringIncludes } from "@std/assert";
import { readNpy, writeNpy } from "../formats/npy.ts";
import { startServer } from "./http_fixture.ts";
import { type CliResult, runCli, tableRows } from "./helpers.ts";

const root = new URL("../", import.meta.url).pathname;
const CAT = "testdata/images/cat.jpg";

type Result = CliResult;

/** `deno run -A cli.ts …` from the repository root, with an empty cache unless `env` says. */
const cli = (env: Record<string, string>, ...args: string[]): Promise<Result> =>
  runCli(args, { DENOZOO_HOME: "/nonexistent/denozoo", ...env }, { cwd: root });

const OFFLINE = { DENOZOO_OFFLINE: "1" };

/** Asserts a refusal: the exit code and exactly one line on stderr, which is `line`. */
function assertRefused(result: Result, code: number, line: string): void {
  assertEquals(result.code, code, result.stderr);
  assertEquals(result.stderr.trimEnd().split("\n"), [`denozoo: ${line}`]);
  assertEquals(result.stdout, "");
}

async function exists(path: string): Promise<boolean> {
  return await Deno.stat(path).then(() => true, () => false);
}

/** The labels of classify's table rows. */
function labels(stdout: string): string[] {
  return tableRows(stdout).map((row) => row.label);
}

Deno.test("unknown flags, stray operands and bad values are refused with a suggestion, exit 2", async () => {
  const cases: [string[], string][] = [
    [
      ["classify", CAT, "--modle", "x"],
      "unknown flag --modle for classify (did you mean --model?)",
    ],
    [
      ["classify", CAT, "-j"],
      "unknown flag -j for classify (did you mean --json or --json-array?)",
    ],
    [["list", "--jsn"], "unknown flag --jsn for list (did you mean --json?)"],
    [["list", "resnet50"], "list takes no operands, got 'resnet50'"],
    [["classify", CAT, "--top", "-3"], "--top must be a positive integer, got '-3'"],
    [
      ["clasify", CAT],
      "unknown command 'clasify' (did you mean classify?); the commands are classify, convert, " +
      "predict, list, info, pull, bench, embed, finetune, cache, help",
    ],
    [
      ["--json", "list"],
      "unknown flag --json before the command; it is a flag of classify, list, bench, cache, " +
      "and goes after the command",
    ],
  ];
  const results = await Promise.all(cases.map(([args]) => cli(OFFLINE, ...args)));
  results.forEach((result, i) => assertRefused(result, 2, cases[i][1]));
});

Deno.test("help: per command, by flag or by `help CMD`; --version is deno.json's; global flags go first", async () => {
  const config = JSON.parse(await Deno.readTextFile(`${root}deno.json`));
  const [version, classifyHelp, helpClassify, listHelp, overall, verbose] = await Promise.all([
    cli(OFFLINE, "--version"),
    cli(OFFLINE, "classify", "--help"),
    cli(OFFLINE, "help", "classify"),
    cli(OFFLINE, "list", "-h"),
    cli(OFFLINE, "--help"),
    cli(OFFLINE, "--verbose", "classify", CAT, "--top", "1"),
  ]);
  assertEquals([version.code, version.stdout], [0, `denozoo ${config.version}\n`]);
  assertEquals(classifyHelp.code, 0);
  assertEquals(helpClassify.stdout, classifyHelp.stdout);
  assertStringIncludes(
    classifyHelp.stdout,
    "--top N            classes shown per image [default: 5]",
  );
  assertStringIncludes(classifyHelp.stdout, "Examples:\n  denozoo classify cat.jpg");
  assertStringIncludes(classifyHelp.stdout, "DENOZOO_OFFLINE");
  assert(listHelp.stdout !== classifyHelp.stdout);
  assertStringIncludes(listHelp.stdout, "Usage: denozoo list [flags]");
  for (
    const command of ["classify", "convert", "predict", "list", "info", "pull", "bench", "cache"]
  ) {
    assertStringIncludes(overall.stdout, `\n  ${command} `);
  }
  assertEquals(verbose.code, 0, verbose.stderr);
  assertEquals(labels(verbose.stdout), ["cat"]);
});

Deno.test("names resolve like timm's: an architecture offline names its default id and how to get it", async () => {
  const home = await Deno.makeTempDir();
  try {
    const env = { DENOZOO_HOME: home, DENOZOO_OFFLINE: "1" };
    const [resnet50, bundled, nearMiss] = await Promise.all([
      cli(env, "classify", CAT, "--model", "resnet50"),
      cli(env, "classify", CAT, "--model", "cifar_resnet20.cifar10", "--top", "1"),
      cli(env, "classify", CAT, "--model", "resnet05"),
    ]);
    assertRefused(
      resnet50,
      1,
      "resnet50 means resnet50.tv2_in1k (the default weights of resnet50): DENOZOO_OFFLINE is set " +
        "and resnet50-11ad3fa6.pth (resnet50.tv2_in1k) is not in the cache; get it with " +
        "`denozoo pull resnet50.tv2_in1k` where the network is reachable, or download " +
        `https://download.pytorch.org/models/resnet50-11ad3fa6.pth to ${home}/downloads/resnet50-11ad3fa6.pth`,
    );
    // The bundled model's id is the file shipped with the package: offline, nothing to download.
    assertEquals(bundled.code, 0, bundled.stderr);
    assertStringIncludes(bundled.stdout, "(cifar_resnet20.cifar10 (bundled))");
    assertEquals(labels(bundled.stdout), ["cat"]);
    assertEquals(nearMiss.code, 1);
    assertStringIncludes(nearMiss.stderr, "no model 'resnet05'");
    assertStringIncludes(nearMiss.stderr, "(did you mean resnet50");
    assertEquals([...Deno.readDirSync(home)], [], "nothing was downloaded");
  } finally {
    await Deno.remove(home, { recursive: true });
  }
});

Deno.test("outputs: convert refuses an extension it cannot write, predict a missing folder; nothing is made", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const input = `${dir}/x.npy`;
    await Deno.writeFile(input, writeNpy([1, 32, 32, 3], new Float32Array(32 * 32 * 3)));
    const [h5, missingFolder, verifyPth] = await Promise.all([
      cli(
        OFFLINE,
        "convert",
        "testdata/cifar10-resnet/resnet20-12fca82f.th",
        "--out",
        `${dir}/r20.h5`,
      ),
      cli(
        OFFLINE,
        "predict",
        "--weights",
        "cifar_resnet20",
        "--input",
        input,
        "--output",
        `${dir}/missing/dir/y.npy`,
      ),
      cli(
        OFFLINE,
        "convert",
        "testdata/fixtures/nets/tv_basic.pth",
        "--out",
        `${dir}/tv.safetensors`,
        "--verify",
      ),
    ]);
    assertRefused(
      h5,
      2,
      `--out ${dir}/r20.h5: convert writes FILE.safetensors (the zoo file), FILE.onnx (an ONNX ` +
        "export) or a folder, not a .h5 file",
    );
    assertRefused(
      missingFolder,
      1,
      `--output ${dir}/missing/dir/y.npy: the folder ${dir}/missing/dir does not exist (create it first)`,
    );
    assertRefused(
      verifyPth,
      2,
      "--verify needs an ONNX source (it runs the source in onnxruntime); " +
        "testdata/fixtures/nets/tv_basic.pth is pytorch-zip",
    );
    assertEquals([...Deno.readDirSync(dir)].map((e) => e.name), ["x.npy"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("--weights and --model take ids, architectures and convert's folders; OS errors name the path", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const input = `${dir}/x.npy`;
    await Deno.writeFile(input, writeNpy([1, 32, 32, 3], new Float32Array(32 * 32 * 3).fill(0.5)));
    const converted = await cli(
      OFFLINE,
      "convert",
      "testdata/cifar10-resnet/resnet20-12fca82f.th",
      "--out",
      `${dir}/out`,
    );
    assertEquals(converted.code, 0, converted.stderr);
    const [byFolder, byId, byArchitecture, notAModel, directoryInput] = await Promise.all([
      cli(
        OFFLINE,
        "predict",
        "--weights",
        `${dir}/out`,
        "--input",
        input,
        "--output",
        `${dir}/a.npy`,
      ),
      cli(
        OFFLINE,
        "predict",
        "--weights",
        "cifar_resnet20.cifar10",
        "--input",
        input,
        "--output",
        `${dir}/b.npy`,
      ),
      cli(
        OFFLINE,
        "predict",
        "--model",
        "cifar_resnet20",
        "--input",
        input,
        "--output",
        `${dir}/c.npy`,
      ),
      cli(OFFLINE, "classify", CAT, "--model", "testdata/images"),
      cli(
        OFFLINE,
        "predict",
        "--weights",
        "cifar_resnet20",
        "--input",
        "testdata",
        "--output",
        `${dir}/d.npy`,
      ),
    ]);
    for (const result of [byFolder, byId, byArchitecture]) {
      assertEquals(result.code, 0, result.stderr);
    }
    const read = (name: string) =>
      Array.from(readNpy(Deno.readFileSync(`${dir}/${name}`), name).data as Float32Array);
    assertEquals(read("a.npy"), read("b.npy"));
    assertEquals(read("b.npy"), read("c.npy"));
    assertRefused(
      notAModel,
      1,
      "testdata/images is a folder without a model.json or a .safetensors file (what `convert` " +
        "writes into a folder); name the weights file itself",
    );
    assertRefused(directoryInput, 1, "Is a directory (os error 21): 'testdata'");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("labels: a set of another size is refused; label files in three forms; convert --labels records names", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const names = [
      "plane",
      "car",
      "bird",
      "kitty",
      "deer",
      "doggo",
      "frog",
      "horse",
      "ship",
      "truck",
    ];
    await Deno.writeTextFile(`${dir}/names.txt`, names.join("\n") + "\n");
    await Deno.writeTextFile(`${dir}/names.json`, JSON.stringify(names));
    await Deno.writeTextFile(
      `${dir}/index.json`,
      JSON.stringify(Object.fromEntries(names.map((n, i) => [String(i), [`c${i}`, n]]))),
    );
    await Deno.writeTextFile(`${dir}/seven.txt`, names.slice(0, 7).join("\n"));
    const top1 = ["--top", "1"];
    const [imagenet, text, json, index, seven, converted, sevenConvert] = await Promise.all([
      cli(OFFLINE, "classify", CAT, "--labels", "imagenet"),
      cli(OFFLINE, "classify", CAT, "--labels", `${dir}/names.txt`, ...top1),
      cli(OFFLINE, "classify", CAT, "--labels", `${dir}/names.json`, ...top1),
      cli(OFFLINE, "classify", CAT, "--labels", `${dir}/index.json`, ...top1),
      cli(OFFLINE, "classify", CAT, "--labels", `${dir}/seven.txt`),
      cli(
        OFFLINE,
        "convert",
        "cifar_resnet20.cifar10",
        "--out",
        `${dir}/mine.safetensors`,
        "--labels",
        `${dir}/names.txt`,
      ),
      cli(
        OFFLINE,
        "convert",
        "cifar_resnet20.cifar10",
        "--out",
        `${dir}/seven.safetensors`,
        "--labels",
        `${dir}/seven.txt`,
      ),
    ]);
    // Before: `--labels imagenet` on the 10-class model printed `tiger_shark 100.00%`.
    assertRefused(imagenet, 1, "label set 'imagenet' has 1000 names, but the model has 10 classes");
    for (const result of [text, json, index]) {
      assertEquals(labels(result.stdout), ["kitty"], result.stderr);
    }
    assertRefused(seven, 1, "the class names given has 7 names, but the model has 10 classes");
    assertEquals(converted.code, 0, converted.stderr);
    assertRefused(
      sevenConvert,
      1,
      "the class names given has 7 names, but the model has 10 classes",
    );
    assertEquals(await exists(`${dir}/seven.safetensors`), false);
    const mine = await cli(
      OFFLINE,
      "classify",
      CAT,
      "--model",
      `${dir}/mine.safetensors`,
      "--top",
      "2",
    );
    assertEquals(labels(mine.stdout), ["kitty", "doggo"], mine.stderr);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("offline and cache: an unresolvable host fails at once naming the variables; cache lists, verifies, removes", async () => {
  const home = await Deno.makeTempDir();
  const checkpoint = await Deno.readFile(`${root}testdata/cifar10-resnet/resnet32-d509ac18.th`);
  const server = startServer({
    "/github.com/akamaster/pytorch_resnet_cifar10/raw/master/pretrained_models/resnet32-d509ac18.th":
      { body: checkpoint },
  });
  try {
    const unreachable = await cli(
      { DENOZOO_HOME: home, DENOZOO_MIRROR: "http://mirror.invalid" },
      "pull",
      "cifar_resnet32",
    );
    assertEquals(unreachable.code, 1);
    assertEquals(unreachable.stderr.trimEnd().split("\n"), [
      "cifar_resnet32: its default weights are cifar_resnet32.cifar10",
      "denozoo: could not download cifar_resnet32.cifar10: mirror.invalid does not resolve (no " +
      "network, or a mistyped host); set DENOZOO_MIRROR=URL to download from a mirror, or " +
      "DENOZOO_OFFLINE=1 to use only the cache, where this file belongs at " +
      `${home}/downloads/resnet32-d509ac18.th`,
    ]);
    const env = { DENOZOO_HOME: home, DENOZOO_MIRROR: server.origin };
    const pulled = await cli(env, "pull", "cifar_resnet32.cifar10");
    assertEquals(pulled.code, 0, pulled.stderr);
    const listed = await cli(env, "cache", "list");
    assertEquals(listed.stdout.split("\n").slice(0, 3), [
      `cache ${home}:`,
      "id                      download  converted  onnx export",
      "cifar_resnet32.cifar10  1.9 MB    1.9 MB     -",
    ]);
    const download = `${home}/downloads/resnet32-d509ac18.th`;
    const damaged = checkpoint.slice();
    damaged[1000] ^= 1;
    await Deno.writeFile(download, damaged);
    const verified = await cli(env, "cache", "verify");
    assertEquals(verified.code, 1);
    assertStringIncludes(
      verified.stdout,
      "cifar_resnet32.cifar10: corrupt, expected sha256 starting d509ac18, got sha256 ",
    );
    assertStringIncludes(
      verified.stdout,
      `; delete ${download} (\`denozoo cache remove cifar_resnet32.cifar10\`)`,
    );
    assertEquals(verified.stderr, "denozoo: 1 of 1 downloads in the cache is corrupt\n");
    const offline = await cli(
      { ...env, DENOZOO_OFFLINE: "1" },
      "pull",
      "cifar_resnet32.cifar10",
      "--verify",
    );
    assertStringIncludes(
      offline.stdout,
      "cifar_resnet32.cifar10: corrupt (expected sha256 starting d509ac18, got sha256 ",
    );
    const removed = await cli(env, "cache", "remove", "cifar_resnet32.cifar10");
    assertEquals(removed.code, 0, removed.stderr);
    assertStringIncludes(removed.stdout, `removed ${download}, `);
    assertEquals((await cli(env, "cache", "list")).stdout, `cache ${home}: empty\n`);
  } finally {
    await server.close();
    await Deno.remove(home, { recursive: true });
  }
});
