import { assertEquals } from "@std/assert";
import { decodePngImage } from "./png.ts";
import { readImageFixture } from "../tests/image_fixtures.ts";

Deno.test("PNG: every colour type and bit depth decodes to Pillow's RGB exactly", async () => {
  const cases = [
    "png_rgb8", // colour type 2
    "png_rgba8", // 6, alpha dropped
    "png_rgb8_adam7", // interlaced
    "png_rgb16", // 16-bit: high byte kept
    "png_rgba16",
    "png_gray8", // 0
    "png_gray16",
    "png_graya8", // 4
    "png_gray1", // 1/2/4-bit gray scaled by 255, 85, 17
    "png_gray2",
    "png_gray4",
    "png_palette8", // 3
    "png_palette4_trns", // palette with tRNS alpha
    "png_palette1",
  ];
  for (const name of cases) {
    const file = `${name}.png`;
    const image = decodePngImage(await readImageFixture(file), file);
    assertEquals([image.width, image.height], [7, 5], name);
    assertEquals(image.data, await readImageFixture(`${name}.rgb`), name);
  }
});
