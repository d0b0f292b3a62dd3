import { assert, assertEquals, assertRejects } from "@std/assert";
import { ZooFormatError } from "../arch/errors.ts";
import { decodeImage } from "./decode.ts";
import { decodeGifImage } from "./gif.ts";
import { decodeJpegImage } from "./jpeg.ts";
import { decodePngImage } from "./png.ts";
import { decodeWebpImage } from "./webp.ts";
import { readImageFixture } from "../tests/image_fixtures.ts";

const SHARED = new URL("../testdata/", import.meta.url);

Deno.test("decodeImage tells the format by magic bytes, whatever the name says", async () => {
  const cases = [
    { fixture: "exif_orientation6.jpg", decode: decodeJpegImage },
    { fixture: "png_palette4_trns.png", decode: decodePngImage },
    { fixture: "gif_two_frames.gif", decode: decodeGifImage },
    { fixture: "webp_lossy_alpha.webp", decode: decodeWebpImage },
  ];
  for (const { fixture, decode } of cases) {
    const bytes = await readImageFixture(fixture);
    assertEquals(await decodeImage(bytes, "image.bin"), await decode(bytes, fixture), fixture);
  }
});

Deno.test("corrupt, truncated, unknown and oversized files raise ZooFormatError naming the file", async () => {
  const cat = await Deno.readFile(new URL("images/cat.jpg", SHARED));
  const png = await readImageFixture("png_rgb8.png");
  const gif = await readImageFixture("gif_two_frames.gif");
  const webp = await readImageFixture("webp_lossy.webp");
  const hugePng = png.slice();
  new DataView(hugePng.buffer).setUint32(16, 100_000); // IHDR width
  new DataView(hugePng.buffer).setUint32(20, 100_000); // IHDR height
  const badPngData = png.slice();
  badPngData[45] ^= 0xff; // inside the IDAT zlib stream
  const cases: [string, Uint8Array, RegExp][] = [
    ["empty.jpg", new Uint8Array(0), /empty file/],
    [
      "text.png",
      new TextEncoder().encode("<!DOCTYPE html>"),
      /not a JPEG, PNG, GIF or WebP.*3c 21 44/,
    ],
    ["bitmap.jpg", new Uint8Array([0x42, 0x4d, 0, 0, 0, 0]), /not a JPEG, PNG, GIF or WebP/],
    ["cat_header.jpg", cat.subarray(0, 600), /invalid JPEG/],
    ["cat_half.jpg", cat.subarray(0, cat.length / 2), /invalid JPEG/],
    ["short.png", png.subarray(0, 20), /IHDR chunk missing/],
    ["cut.png", png.subarray(0, 60), /invalid PNG/],
    ["flipped.png", badPngData, /invalid PNG/],
    ["huge.png", hugePng, /100000×100000 = 10000000000 pixels, more than/],
    ["cut.gif", gif.subarray(0, 40), /invalid GIF/],
    ["cut.webp", webp.subarray(0, 40), /invalid WebP/],
    ["riff.webp", new TextEncoder().encode("RIFF\0\0\0\0WEBPXXXX"), /invalid WebP.*'XXXX'/],
  ];
  for (const [file, bytes, message] of cases) {
    const error = await assertRejects(() => decodeImage(bytes, file), ZooFormatError);
    assertEquals(error.file, file);
    assert(error.message.startsWith(`${file}: `), error.message);
    assert(message.test(error.message), `${file}: ${error.message}`);
  }
});
