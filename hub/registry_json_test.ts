import { assertEquals, assertStringIncludes, assertThrows } from "@std/assert";
import { ZooFormatError } from "../arch/errors.ts";
import { REGISTRY } from "./registry.ts";
import { validateRegistryJson } from "./registry_json.ts";

Deno.test("validateRegistryJson: the registry survives a JSON round trip unchanged", () => {
  assertEquals(validateRegistryJson(JSON.stringify(REGISTRY), "registry.json"), [...REGISTRY]);
});

Deno.test("validateRegistryJson: a wrong field is refused, naming the file and the entry", () => {
  const entry = REGISTRY.find((e) => e.id === "cifar_resnet20.cifar10")!;
  const json = (value: unknown) => JSON.stringify(value);
  const cases: [string, string][] = [
    ["[{", "not valid JSON"],
    [json({ entries: [entry] }), "registry is not a JSON array"],
    [json([entry, entry]), "entry 1 ('cifar_resnet20.cifar10'): id appears twice"],
    [json([{ ...entry, top1: 91 }]), "entry 0 has unknown field 'top1'"],
    [json([{ ...entry, urls: ["http://x.org/a.th"] }]), "something other than an https:// URL"],
    [json([{ ...entry, hash: { algorithm: "md5", value: "12fca82f" } }]), "'hash.value' is not"],
    [
      json([{ ...entry, labels: "imagenet21k" }]),
      "'labels' is not one of imagenet, imagenet_background, cifar10",
    ],
    [json([{ ...entry, metrics: { ...entry.metrics, top1: 912.5 } }]), "is not a percentage"],
    [json([{ ...entry, includeTop: "yes" }]), "'includeTop' is not a boolean"],
  ];
  for (const [text, message] of cases) {
    const error = assertThrows(() => validateRegistryJson(text, "mine.json"), ZooFormatError);
    assertStringIncludes(error.message, message);
    assertEquals(error.message.startsWith("mine.json: "), true, error.message);
  }
});
