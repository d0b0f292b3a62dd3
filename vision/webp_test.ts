import { assertEquals, assertMatch } from "@std/assert";
import { decodeWebpImage } from "./webp.ts";
import { byteErrors, readImageFixture } from "../tests/image_fixtures.ts";

async function decodeFixture(file: string) {
  return await decodeWebpImage(await readImageFixture(file), file);
}

Deno.test("WebP: lossless (VP8L), lossy (VP8) and lossy+alpha (VP8X) match Pillow's libwebp", async () => {
  const lossless = await decodeFixture("webp_lossless_rgba.webp");
  assertEquals([lossless.width, lossless.height], [7, 5]);
  assertEquals(lossless.data, await readImageFixture("webp_lossless_rgba.rgb"));
  for (const name of ["webp_lossy", "webp_lossy_alpha"]) {
    const image = await decodeFixture(`${name}.webp`);
    assertEquals([image.width, image.height], [24, 16], name);
    // Both sides are libwebp with fancy upsampling; measured max difference 0.
    assertEquals(byteErrors(image.data, await readImageFixture(`${name}.rgb`)).max, 0, name);
  }
});

Deno.test("WebP: libwebp loads on the first WebP decode, and one that cannot load is reported then", async () => {
  // Without read access to the npm cache, libwebp cannot read its .wasm; importing the decoders
  // touches nothing, and JPEG, PNG and GIF decode regardless.
  const fixtures = new URL("../testdata/fixtures/images/", import.meta.url).pathname;
  const script = await Deno.makeTempFile({ suffix: ".ts" });
  await Deno.writeTextFile(
    script,
    `import { decodeImage } from ${JSON.stringify(import.meta.resolve("./decode.ts"))};
const read = (name: string) => Deno.readFile(${JSON.stringify(fixtures)} + name);
const png = await decodeImage(await read("png_rgb8.png"), "png_rgb8.png");
console.log(png.width, png.height);
try {
  await decodeImage(await read("webp_lossy.webp"), "webp_lossy.webp");
} catch (error) {
  console.log((error as Error).name, (error as Error).message);
}
`,
  );
  try {
    const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--no-prompt",
        `--config=${new URL("../deno.json", import.meta.url).pathname}`,
        `--allow-read=${fixtures}`,
        script,
      ],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const text = new TextDecoder();
    assertEquals(code, 0, text.decode(stderr));
    const [size, error] = text.decode(stdout).trim().split("\n");
    assertEquals(size, "7 5");
    assertMatch(error, /^ZooFormatError webp_lossy\.webp: the WebP decoder could not load: /);
  } finally {
    await Deno.remove(script);
  }
});
