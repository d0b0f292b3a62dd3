import { assert, assertEquals, assertStringIncludes } from "@std/assert";
import { checkLayers, LAYERS, MAX_LINES } from "./check_layers.ts";

const root = decodeURIComponent(new URL("..", import.meta.url).pathname).replace(/\/$/, "");
const script = new URL("./check_layers.ts", import.meta.url).pathname;

/** Runs the script as `deno task check` does, with extra arguments. */
async function runCheck(...args: string[]) {
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-read", script, ...args],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder();
  return { code, stdout: text.decode(stdout), stderr: text.decode(stderr) };
}

/** A temporary tree with the given files (path → contents). */
async function tree(files: Record<string, string>): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "layers-" });
  for (const [path, contents] of Object.entries(files)) {
    await Deno.mkdir(`${dir}/${path.split("/").slice(0, -1).join("/")}`, { recursive: true });
    await Deno.writeTextFile(`${dir}/${path}`, contents);
  }
  return dir;
}

Deno.test("the layer table is the documented one", () => {
  assertEquals(LAYERS, [
    "arch",
    "formats",
    "convert",
    "runtime",
    "graph",
    "hub",
    "vision",
    "pipelines",
    "cli",
  ]);
});

Deno.test("the real tree imports only downwards and has no folder cycle", async () => {
  const violations = await checkLayers(root);
  assertEquals(violations.filter((v) => v.rule !== "size"), []);
  const run = await runCheck("--no-size");
  assertEquals(run.code, 0, run.stdout + run.stderr);
  assertEquals(run.stdout, "");
});

Deno.test("an upward import fails, naming the file, line and imported path; tests are exempt", async () => {
  const dir = await tree({
    "arch/spec.ts": "export const spec = 1;\n",
    "formats/zip.ts": [
      'import { spec } from "../arch/spec.ts";',
      'import type { Engine } from "../runtime/engine.ts";',
      'export const worker = new URL("../hub/worker.ts", import.meta.url);',
      "export const zip = spec;",
    ].join("\n"),
    "formats/zip_test.ts": 'import "../pipelines/load.ts";\n',
    "runtime/engine.ts": "export type Engine = 1;\n",
    "hub/worker.ts": "",
    "pipelines/load.ts": 'import "../tests/helpers.ts";\n',
    "mod.ts": 'export * from "./pipelines/load.ts";\n',
    "cli.ts": 'import "./mod.ts";\nimport "./cli/classify.ts";\n',
    "cli/classify.ts": 'import "../runtime/engine.ts";\n',
  });
  try {
    const run = await runCheck("--root", dir);
    assertEquals(run.code, 1);
    const lines = run.stdout.trim().split("\n");
    assertEquals(lines.length, 3, run.stdout);
    assertStringIncludes(lines[0], "formats/zip.ts:2: direction");
    assertStringIncludes(lines[0], '"../runtime/engine.ts"');
    assertStringIncludes(lines[1], "formats/zip.ts:3: direction");
    assertStringIncludes(lines[1], '"../hub/worker.ts"');
    assertStringIncludes(lines[2], "pipelines/load.ts:1: direction");
    assertStringIncludes(lines[2], '"../tests/helpers.ts" (not a layer)');
    assert(!run.stdout.includes("zip_test.ts"), run.stdout);
    assert(!run.stdout.includes("cycle"), run.stdout);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a folder cycle fails, naming each edge of it", async () => {
  const dir = await tree({
    "arch/spec.ts": 'import "../convert/import.ts";\n',
    "formats/zip.ts": 'import "../arch/spec.ts";\n',
    "convert/import.ts": '\nimport "../formats/zip.ts";\n',
  });
  try {
    const run = await runCheck("--root", dir, "--no-size");
    assertEquals(run.code, 1);
    assertStringIncludes(run.stdout, 'arch/spec.ts:1: direction: imports "../convert/import.ts"');
    const cycle = run.stdout.split("\n").filter((line) => line.includes(": cycle: "));
    assertEquals(cycle, [
      'arch/spec.ts:1: cycle: imports "../convert/import.ts": folder cycle arch → convert → formats → arch',
      'convert/import.ts:2: cycle: imports "../formats/zip.ts": folder cycle arch → convert → formats → arch',
      'formats/zip.ts:1: cycle: imports "../arch/spec.ts": folder cycle arch → convert → formats → arch',
    ]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a source file over the line limit fails; tests and other folders do not count", async () => {
  const lines = (n: number) => "const x = 1;\n".repeat(n);
  const dir = await tree({
    "arch/at_limit.ts": lines(MAX_LINES),
    "arch/over.ts": lines(MAX_LINES + 1),
    "arch/long_test.ts": lines(MAX_LINES * 2),
    "vision/deep/nested.ts": lines(MAX_LINES + 5),
    "tests/long.ts": lines(MAX_LINES * 2),
    "mod.ts": lines(MAX_LINES + 2),
  });
  try {
    const run = await runCheck("--root", dir);
    assertEquals(run.code, 1);
    assertEquals(run.stdout.trim().split("\n"), [
      `arch/over.ts:${MAX_LINES + 1}: size: ${
        MAX_LINES + 1
      } lines, over the limit of ${MAX_LINES}: split it`,
      `mod.ts:${MAX_LINES + 2}: size: ${
        MAX_LINES + 2
      } lines, over the limit of ${MAX_LINES}: split it`,
      `vision/deep/nested.ts:${MAX_LINES + 5}: size: ${
        MAX_LINES + 5
      } lines, over the limit of ${MAX_LINES}: split it`,
    ]);
    assertEquals((await runCheck("--root", dir, "--no-size")).code, 0);
    assertEquals((await runCheck("--root", dir, "--max-lines", "700")).code, 0);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
