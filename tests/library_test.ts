import { assertEquals } from "@std/assert";

const root = new URL("../", import.meta.url).pathname;

Deno.test("the README's three lines work in a fresh process, with no backend chosen first", async () => {
  const script = `
    import { classifyFiles, loadClassifier } from "${root}mod.ts";
    const classifier = await loadClassifier();
    const [result] = await classifyFiles(classifier, ["${root}testdata/images/cat.jpg"], { top: 3 });
    console.log(JSON.stringify(result.predictions.map((p) => p.label)));
  `;
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["eval", "--config", `${root}deno.json`, script],
    env: { XDG_RUNTIME_DIR: "/tmp" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  assertEquals(code, 0, new TextDecoder().decode(stderr));
  const labels = JSON.parse(new TextDecoder().decode(stdout).trim().split("\n").pop()!);
  assertEquals(labels[0], "cat");
  assertEquals(labels.length, 3);
});
