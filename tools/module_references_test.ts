import { assertEquals } from "@std/assert";
import { scanReferences } from "./module_references.ts";

Deno.test("every kind of module reference is found, and nothing in comments or strings", () => {
  const source = [
    'import { a } from "../arch/spec.ts";', // 1
    'import type { B } from "./b.ts";', // 2
    "import {", // 3
    "  c,", // 4
    '} from "../formats/zip.ts";', // 5
    'import "./side_effect.ts";', // 6
    'export { d } from "./d.ts";', // 7
    'export type { E } from "./e.ts";', // 8
    'export * as f from "./f.ts";', // 9
    'const g = await import("../runtime/ort.ts");', // 10
    'const worker = new Worker(new URL("./worker.ts", import.meta.url), { type: "module" });', // 11
    'const h = import.meta.resolve("./h.ts");', // 12
    '// import { no } from "./comment.ts";', // 13
    '/* export * from "./block_comment.ts"; */', // 14
    'const text = "import x from \\"./in_string.ts\\"";', // 15
    'const tpl = `import("./in_template.ts") ${1 / 2}`;', // 16
    'const re = /import\\("\\.\\/regex.ts"\\)/;', // 17
    "const from = 1; export const x = from / 2;", // 18
    'type T = typeof import("./type_query.ts");', // 19
    "const u = import(`./plain_template.ts`);", // 20
    'const model = new URL("../models/x.safetensors", import.meta.url);', // 21
  ].join("\n");
  assertEquals(
    scanReferences(source).map((r) => `${r.line} ${r.kind} ${r.specifier}`),
    [
      "1 import ../arch/spec.ts",
      "2 import ./b.ts",
      "5 import ../formats/zip.ts",
      "6 import ./side_effect.ts",
      "7 export ./d.ts",
      "8 export ./e.ts",
      "9 export ./f.ts",
      "10 dynamic import ../runtime/ort.ts",
      "11 url ./worker.ts",
      "12 resolve ./h.ts",
      "19 dynamic import ./type_query.ts",
      "20 dynamic import ./plain_template.ts",
      "21 url ../models/x.safetensors",
    ],
  );
});

Deno.test("each reference gives the offsets of its text, for rewriting in place", () => {
  const source = "import a from \"./a.ts\";\nconst b = import(`b`);\nexport * from 'c';\n";
  const found = scanReferences(source).map((r) => [source.slice(r.start, r.end), r.kind]);
  assertEquals(found, [["./a.ts", "import"], ["b", "dynamic import"], ["c", "export"]]);
});
