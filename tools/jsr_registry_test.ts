import { assertEquals, assertThrows } from "@std/assert";
import { contentType, registryHandler, resolveImportMap, unfurl } from "./jsr_registry.ts";

const imports = {
  "@tensorflow/tfjs-core": "npm:@tensorflow/tfjs-core@4.22.0",
  "@std/cli/parse-args": "npm:deno-std@1.4.0/cli/parse_args.js",
  "@std/cli": "npm:deno-std@1.4.0/cli/mod.js",
  "h5wasm": "npm:h5wasm@0.10.3",
  "lib/": "./lib/",
};

Deno.test("bare specifiers resolve as Deno's import map does", () => {
  assertEquals(
    resolveImportMap("@tensorflow/tfjs-core", imports),
    imports["@tensorflow/tfjs-core"],
  );
  // The longest key wins over an npm key followed by a subpath.
  assertEquals(resolveImportMap("@std/cli/parse-args", imports), imports["@std/cli/parse-args"]);
  assertEquals(resolveImportMap("h5wasm/node", imports), "npm:h5wasm@0.10.3/node");
  assertEquals(resolveImportMap("lib/x.ts", imports), "./lib/x.ts");
  assertEquals(resolveImportMap("h5wasmx", imports), null);
  assertEquals(resolveImportMap("fflate", imports), null);
});

Deno.test("unfurling rewrites imports, exports and literal dynamic imports only", () => {
  const source = [
    'import * as tf from "@tensorflow/tfjs-core";',
    'import type { Dataset } from "h5wasm/node";',
    "export { parseArgs } from '@std/cli/parse-args';",
    'const h5 = await import("h5wasm/node");',
    'type T = typeof import("h5wasm");',
    'import { local } from "./local.ts";',
    'import "npm:fflate@0.8.3";',
    '// import "h5wasm"; stays: a comment',
    "const text = \"import x from 'h5wasm'\";",
    'const wasm = import.meta.resolve("npm:@tensorflow/tfjs-backend-wasm");',
  ].join("\n");
  assertEquals(
    unfurl(source, imports, "x.ts").split("\n"),
    [
      'import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";',
      'import type { Dataset } from "npm:h5wasm@0.10.3/node";',
      "export { parseArgs } from 'npm:deno-std@1.4.0/cli/parse_args.js';",
      'const h5 = await import("npm:h5wasm@0.10.3/node");',
      'type T = typeof import("npm:h5wasm@0.10.3");',
      'import { local } from "./local.ts";',
      'import "npm:fflate@0.8.3";',
      '// import "h5wasm"; stays: a comment',
      "const text = \"import x from 'h5wasm'\";",
      'const wasm = import.meta.resolve("npm:@tensorflow/tfjs-backend-wasm");',
    ],
  );
});

Deno.test("a bare specifier the import map does not resolve fails, naming file and line", () => {
  assertThrows(
    () => unfurl('import "./a.ts";\nimport { zip } from "fflate";\n', imports, "formats/zip.ts"),
    Error,
    'formats/zip.ts:2: "fflate" is not in deno.json\'s imports',
  );
});

Deno.test("files are served with the types Deno needs, and nothing outside the registry", async () => {
  assertEquals(contentType("/@a/b/1.0.0/mod.ts"), "application/typescript; charset=utf-8");
  assertEquals(contentType("/@a/b/meta.json"), "application/json; charset=utf-8");
  assertEquals(contentType("/@a/b/1.0.0/models/m.safetensors"), "application/octet-stream");
  assertEquals(contentType("/@a/b/1.0.0/LICENSE"), "text/plain; charset=utf-8");
  const dir = await Deno.makeTempDir();
  try {
    await Deno.mkdir(`${dir}/@a/b/1.0.0`, { recursive: true });
    await Deno.writeTextFile(`${dir}/@a/b/1.0.0/mod.ts`, "export const x = 1;\n");
    const handler = registryHandler(dir);
    const response = await handler(new Request("http://127.0.0.1/@a/b/1.0.0/mod.ts"));
    assertEquals(response.status, 200);
    assertEquals(response.headers.get("content-type"), "application/typescript; charset=utf-8");
    assertEquals(await response.text(), "export const x = 1;\n");
    const missing = await handler(new Request("http://127.0.0.1/@a/b/2.0.0/mod.ts"));
    assertEquals(missing.status, 404);
    await missing.body?.cancel();
    const folder = await handler(new Request("http://127.0.0.1/@a/b/1.0.0"));
    assertEquals(folder.status, 404);
    await folder.body?.cancel();
    const escape = await handler(new Request("http://127.0.0.1/@a/b/..%2F..%2F..%2Fetc%2Fpasswd"));
    assertEquals(escape.status, 400);
    await escape.body?.cancel();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
