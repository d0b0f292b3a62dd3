import { assertEquals } from "@std/assert";
import { formatDuration, formatProgress, ProgressLine } from "./progress.ts";

Deno.test("the progress line shows done/total, rate and time left", () => {
  assertEquals(formatProgress("classified", 0, 1000, 0), "classified 0/1000");
  assertEquals(
    formatProgress("classified", 16, 1000, 2000),
    "classified 16/1000  8.00 images/s  ETA 2m03s",
  );
  assertEquals(
    formatProgress("classified", 500, 1000, 1000),
    "classified 500/1000  500 images/s  ETA 1s",
  );
  assertEquals([5, 59.6, 61, 3599, 3600, 7500].map(formatDuration), [
    "5s",
    "1m00s",
    "1m01s",
    "59m59s",
    "1h00m",
    "2h05m",
  ]);
});

Deno.test("the progress line is cleared before each result, and drawn only when enabled", () => {
  const drawn: string[] = [];
  let now = 0;
  const options = { write: (text: string) => drawn.push(text), now: () => now };
  const line = new ProgressLine("classified", 4, { ...options, enabled: true });
  line.update(0);
  line.clear();
  now = 1000;
  line.update(2);
  line.clear();
  line.clear(); // nothing drawn: nothing to erase
  assertEquals(drawn, [
    "\r\x1b[2Kclassified 0/4",
    "\r\x1b[2K",
    "\r\x1b[2Kclassified 2/4  2.00 images/s  ETA 1s",
    "\r\x1b[2K",
  ]);
  const off = new ProgressLine("classified", 4, { write: options.write, enabled: false });
  off.update(1);
  off.clear();
  assertEquals(drawn.length, 4);
});
