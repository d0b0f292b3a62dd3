/**
 * The package works as published on JSR: laid out by `tools/jsr_registry.ts` as jsr.io serves
 * it, served on 127.0.0.1 and reached through `JSR_URL`, from a project folder with no deno.json
 * and an empty Deno cache (but for npm packages, which are shared with this process's cache so
 * that nothing is downloaded twice).
 */

import { assert, assertEquals, assertStringIncludes } from "@std/assert";
import { buildRegistry, serveRegistry } from "../tools/jsr_registry.ts";
import { denoCache } from "./helpers.ts";

const root = decodeURIComponent(new URL("..", import.meta.url).pathname).replace(/\/$/, "");
const cat = `${root}/testdata/images/cat.jpg`;

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** A published copy of the package, served, and a bare project with its own Deno cache. */
async function withRegistry(
  body: (run: (command: string, ...args: string[]) => Promise<Run>, tmp: string) => Promise<void>,
) {
  const tmp = await Deno.makeTempDir({ prefix: "denozoo-jsr-" });
  const requests: string[] = [];
  const server = serveRegistry(`${tmp}/registry`, {
    onRequest: (method, path, status) => requests.push(`${status} ${method} ${path}`),
  });
  try {
    await buildRegistry(root, `${tmp}/registry`);
    await Deno.mkdir(`${tmp}/project`);
    await Deno.mkdir(`${tmp}/deno_dir`);
    await Deno.symlink((await denoCache()).npmCache, `${tmp}/deno_dir/npm`);
    const env = {
      JSR_URL: `http://127.0.0.1:${server.addr.port}/`,
      DENO_DIR: `${tmp}/deno_dir`,
      DENOZOO_HOME: `${tmp}/denozoo_home`,
      NO_COLOR: "1",
      XDG_RUNTIME_DIR: Deno.env.get("XDG_RUNTIME_DIR") ?? "/tmp",
    };
    const run = async (command: string, ...args: string[]): Promise<Run> => {
      const output = await new Deno.Command(command, {
        args,
        cwd: `${tmp}/project`,
        env,
        stdout: "piped",
        stderr: "piped",
      }).output();
      const text = new TextDecoder();
      return {
        code: output.code,
        stdout: text.decode(output.stdout),
        stderr: text.decode(output.stderr),
      };
    };
    await body(run, tmp);
    // Deno asked the registry for the package's meta, the version's meta and its files only.
    for (const request of requests) {
      assert(
        /^200 GET \/@denozoo\/zoo\/(meta\.json|0\.1\.0_meta\.json|0\.1\.0\/)/.test(request),
        request,
      );
    }
  } finally {
    await server.shutdown();
    await Deno.remove(tmp, { recursive: true });
  }
}

Deno.test("jsr:@denozoo/zoo: the README's three lines, with the bundled model read from the package's URL", async () => {
  await withRegistry(async (run, tmp) => {
    await Deno.writeTextFile(
      `${tmp}/project/main.ts`,
      `import { classifyFiles, loadClassifier } from "jsr:@denozoo/zoo";
const classifier = await loadClassifier();
const [result] = await classifyFiles(classifier, [${JSON.stringify(cat)}], { top: 3 });
console.log(JSON.stringify(result.predictions.map((p) => p.label)));
`,
    );
    const result = await run(Deno.execPath(), "run", "-A", "main.ts");
    assertEquals(result.code, 0, result.stderr);
    const labels = JSON.parse(result.stdout.trim().split("\n").pop()!);
    assertEquals(labels.length, 3);
    assertEquals(labels[0], "cat");
  });
});

Deno.test("jsr:@denozoo/zoo/cli installs with deno install -g and classifies", async () => {
  await withRegistry(async (run, tmp) => {
    const install = await run(
      Deno.execPath(),
      "install",
      "-g",
      "-A",
      "-n",
      "denozoo",
      "--root",
      `${tmp}/install`,
      "jsr:@denozoo/zoo/cli",
    );
    assertEquals(install.code, 0, install.stderr);
    const result = await run(`${tmp}/install/bin/denozoo`, "classify", cat);
    assertEquals(result.code, 0, result.stderr);
    assertStringIncludes(result.stdout, "1. cat");
    // The threaded wasm build finds its .wasm without deno.json's import map.
    const threaded = await run(
      `${tmp}/install/bin/denozoo`,
      "classify",
      cat,
      "--engine",
      "tfjs",
      "--backend",
      "wasm",
      "--threads",
      "2",
    );
    assertEquals(threaded.code, 0, threaded.stderr);
    assertStringIncludes(threaded.stdout, "1. cat");
    assertStringIncludes(threaded.stderr, "engine: tfjs-wasm (2 threads)");
  });
});
