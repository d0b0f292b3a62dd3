import { assertEquals } from "@std/assert";
import { decodeGifImage } from "./gif.ts";
import { readImageFixture } from "../tests/image_fixtures.ts";

Deno.test("GIF: the first of two frames, palette looked up", async () => {
  const file = "gif_two_frames.gif";
  const image = decodeGifImage(await readImageFixture(file), file);
  assertEquals([image.width, image.height], [7, 5]);
  assertEquals(image.data, await readImageFixture("gif_two_frames.rgb"));
});
