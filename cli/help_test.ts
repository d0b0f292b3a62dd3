import { assert, assertEquals, assertStringIncludes } from "@std/assert";
import { commandHelp, overallHelp, VERSION } from "./help.ts";
import { GLOBAL_FLAGS } from "./flags.ts";
import { CLASSIFY } from "./classify.ts";
import { CONVERT } from "./convert.ts";
import { PREDICT } from "./predict.ts";
import { LIST } from "./list.ts";
import { INFO } from "./info.ts";
import { PULL } from "./pull.ts";
import { BENCH } from "./bench.ts";
import { CACHE } from "./cache.ts";

const SPECS = [CLASSIFY, CONVERT, PREDICT, LIST, INFO, PULL, BENCH, CACHE];

Deno.test("each command's help differs and documents every flag, its examples and environment", () => {
  const helps = SPECS.map(commandHelp);
  assertEquals(new Set(helps).size, SPECS.length);
  for (const [i, spec] of SPECS.entries()) {
    const help = helps[i];
    assert(help.startsWith(`Usage: denozoo ${spec.name}`), help);
    for (const flag of [...spec.flags, ...GLOBAL_FLAGS]) {
      assertStringIncludes(help, `--${flag.name}`);
      // The meaning's first words, wherever the line wraps.
      assertStringIncludes(
        help.replace(/\s+/g, " "),
        flag.meaning.split(" ").slice(0, 4).join(" "),
      );
    }
    assert(spec.examples.length >= 2 && spec.examples.length <= 3, spec.name);
    for (const example of spec.examples) assertStringIncludes(help, example);
    for (const name of spec.env) assertStringIncludes(help, name);
    for (const line of help.split("\n")) assert(line.length <= 100, `${spec.name}: ${line}`);
  }
  assertStringIncludes(helps[0], "--top N            classes shown per image [default: 5]");
  assertStringIncludes(helps[0], "DENOZOO_OFFLINE");
  assertStringIncludes(helps[0], "DENOZOO_MIRROR");
  assertEquals(helps[3].includes("Environment:"), false, "list reads no environment variable");
});

Deno.test("the overall help lists every command; the version is deno.json's", async () => {
  const help = overallHelp(SPECS);
  for (const spec of SPECS) assertStringIncludes(help, `  ${spec.name} `);
  assertStringIncludes(help, "  help ");
  const config = JSON.parse(await Deno.readTextFile(new URL("../deno.json", import.meta.url)));
  assertEquals(VERSION, config.version);
});
