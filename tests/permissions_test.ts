/**
 * The narrow Deno permission sets the CLI needs, as documented in the README and exposed
 * as deno.json tasks: each command runs under exactly them, and a missing one is named.
 */

import { assert, assertEquals, assertStringIncludes } from "@std/assert";
import { REGISTRY } from "../hub/registry.ts";
import { denoCache } from "./helpers.ts";

const root = new URL("../", import.meta.url).pathname;
const here = (path: string) => new URL(path, import.meta.url).pathname;
/**
 * This Deno's cache, which the child is told to use too (`clearEnv` would drop `DENO_DIR`):
 * tfjs-wasm, sharp and onnxruntime load their binaries from its npm cache.
 */
const { denoDir, npmCache } = await denoCache();

async function run(permissions: string[], env: Record<string, string>, ...args: string[]) {
  const command = new Deno.Command(Deno.execPath(), {
    args: ["run", "--no-prompt", ...permissions, `${root}cli.ts`, ...args],
    env: {
      XDG_RUNTIME_DIR: "/tmp",
      NO_COLOR: "1",
      DENO_DIR: denoDir,
      ...env,
    },
    clearEnv: true,
    stdout: "piped",
    stderr: "piped",
  });
  const { code, stdout, stderr } = await command.output();
  const text = new TextDecoder();
  return { code, stdout: text.decode(stdout), stderr: text.decode(stderr) };
}

const image = here("../testdata/images/cat.jpg");
const classifyReads = `--allow-read=${root}models,${image},${npmCache}`;
/**
 * What sharp (libvips) needs beyond reading its binaries: FFI for its addon in the npm cache, one
 * environment variable it reads on load, the CPU count (its default thread count) and
 * /usr/bin/ldd (detect-libc tells glibc from musl by it).
 */
const sharpNeeds = [
  `--allow-ffi=${npmCache}`,
  "--allow-env=npm_package_config_libvips",
  "--allow-sys=cpus",
];

Deno.test("classify with the bundled model needs the model, the images, the npm cache and sharp's few", async () => {
  const result = await run(
    [`${classifyReads},/usr/bin/ldd`, ...sharpNeeds],
    {},
    "classify",
    image,
    "--top",
    "1",
    "--json",
  );
  assertEquals(result.code, 0, result.stderr);
  // One JSON object per line; one image here.
  assertEquals(JSON.parse(result.stdout).predictions[0].label, "cat");
  // The same FFI grant lets auto pick onnxruntime, whose addon is in the npm cache too.
  assertStringIncludes(
    (await run([`${classifyReads},/usr/bin/ldd`, ...sharpNeeds], {}, "classify", image)).stderr,
    "engine: onnxruntime",
  );
  // Without FFI the image decoder cannot load, and says what it needs.
  const noFfi = await run([classifyReads], {}, "classify", image, "--top", "1");
  assertEquals(noFfi.code, 1);
  assertStringIncludes(noFfi.stderr, "the image decoder (npm:sharp, libvips) could not load");
  assertStringIncludes(noFfi.stderr, "--allow-ffi");
});

Deno.test("a missing permission is named, with the flag to add, and no stack trace", async () => {
  const result = await run([`--allow-read=${root}models,${npmCache}`], {}, "classify", image);
  assertEquals(result.code, 1);
  assertStringIncludes(result.stderr, "--allow-read");
  assertStringIncludes(result.stderr, "cat.jpg");
  assert(!result.stderr.includes("    at "), result.stderr);
});

Deno.test("pull needs net access to the upstream (here: the mirror) and write access to the cache only", async () => {
  const home = await Deno.makeTempDir();
  const checkpoint = await Deno.readFile(here("../testdata/cifar10-resnet/resnet20-12fca82f.th"));
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    () => new Response(checkpoint),
  );
  const mirror = `127.0.0.1:${server.addr.port}`;
  const env = { DENOZOO_HOME: home, DENOZOO_MIRROR: `http://${mirror}` };
  const base = [
    `--allow-read=${home},${npmCache}`,
    `--allow-write=${home}`,
    "--allow-env=DENOZOO_HOME,DENOZOO_OFFLINE,DENOZOO_MIRROR",
  ];
  try {
    const denied = await run(base, env, "pull", "cifar_resnet20.cifar10");
    assertEquals(denied.code, 1);
    assertStringIncludes(denied.stderr, "--allow-net");
    const pulled = await run(
      [...base, `--allow-net=${mirror}`],
      env,
      "pull",
      "cifar_resnet20.cifar10",
    );
    assertEquals(pulled.code, 0, pulled.stderr);
    assertStringIncludes(pulled.stdout, `${home}/models/cifar_resnet20.cifar10.safetensors`);
    // The provenance hash falls back to this thread, quietly, where its worker's module
    // cannot be read.
    assert(!pulled.stderr.includes("Uncaught"), pulled.stderr);
  } finally {
    await server.shutdown();
    await Deno.remove(home, { recursive: true });
  }
});

Deno.test("the deno.json permission tasks allow every registry host and nothing broader", async () => {
  const config = JSON.parse(await Deno.readTextFile(`${root}deno.json`));
  const pull: string = config.tasks["pull:narrow"];
  const classify: string = config.tasks["classify:narrow"];
  for (const task of [pull, classify]) {
    assert(!/--allow-all|-A\b|--allow-(read|write|net|env)( |$)/.test(task), task);
    // Deno's npm cache is asked of `deno info` (it moves with DENO_DIR), never spelled out.
    assert(!task.includes("deno/npm"), task);
  }
  const allowed = /--allow-net=(\S+)/.exec(pull)![1].split(",");
  for (const entry of REGISTRY) {
    for (const url of entry.urls) {
      assert(allowed.includes(new URL(url).host), `${new URL(url).host} (${entry.id})`);
    }
  }
  assert(!classify.includes("--allow-net") && !classify.includes("--allow-write"), classify);
});
