/**
 * What the classification benchmarks share (`classify_bench.ts`, `classify_folder.ts`): where
 * their files are, whether they were prepared, and the zoo files converted once from the seeded
 * torchvision ResNet-50:
 *
 * ```sh
 * /usr/bin/python3 testdata/fixtures/fullsize.py /tmp/fullsize        # the ResNet-50 (.pth)
 * deno run -A tools/imagenet_style_folder.ts /tmp/denozoo-bench       # the images
 * ```
 *
 * @module
 */

/** The folder `tools/imagenet_style_folder.ts` wrote. */
export const BENCH = "/tmp/denozoo-bench";
/** Its 1000 ImageNet-style JPEGs. */
export const FOLDER = `${BENCH}/imagenet-style`;
/** The seeded torchvision ResNet-50 of `testdata/fixtures/fullsize.py`. */
export const PTH = "/tmp/fullsize/resnet50.pth";
/** That ResNet-50 as a float32 zoo file. */
export const FLOAT32 = `${BENCH}/r50.safetensors`;
/** And as an int8 zoo file, calibrated on the folder's 100 `calibration/` images. */
export const INT8 = `${BENCH}/r50.int8.safetensors`;
const root = new URL("../", import.meta.url).pathname;

const exists = (path: string) => Deno.stat(path).then(() => true, () => false);

/** Whether the images and the ResNet-50 are there. */
export const prepared: boolean = await exists(`${FOLDER}/0999.jpg`) && await exists(PTH);

/** Whether /usr/bin/python3 has torch, torchvision and Pillow. */
export const hasTorch: boolean = prepared && (await new Deno.Command("/usr/bin/python3", {
  args: ["-c", "import torch, torchvision, PIL"],
  stdout: "null",
  stderr: "null",
}).output().catch(() => ({ success: false }))).success;

/** What one command took: wall seconds, peak RSS (MiB) and its last line of output. */
export interface Timed {
  /** Wall time, seconds. */
  seconds: number;
  /** Peak resident memory, MiB. */
  peakMiB: number;
  /** The command's last line on stdout. */
  last: string;
}

/** Runs a command under `/usr/bin/time`; refuses a failure with its last words. */
export async function timed(
  label: string,
  command: string,
  args: string[],
  env: Record<string, string> = {},
): Promise<Timed> {
  const { code, stdout, stderr } = await new Deno.Command("/usr/bin/time", {
    args: ["-f", "%M %e", command, ...args],
    env: { XDG_RUNTIME_DIR: "/tmp", ...env },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder();
  const err = text.decode(stderr).trim().split("\n");
  if (code !== 0) throw new Error(`${label} failed: ${err.slice(-5).join("\n")}`);
  const [kib, seconds] = err.at(-1)!.split(" ").map(Number);
  const last = text.decode(stdout).trim().split("\n").pop() ?? "";
  return { seconds, peakMiB: kib / 1024, last };
}

/** `deno run -A cli.ts …` as arguments of `Deno.execPath()`. */
export const cli = (...args: string[]): string[] => ["run", "-A", `${root}cli.ts`, ...args];

/** Converts the ResNet-50 to the float32 and int8 zoo files, where they are not there yet. */
export async function ensureZooFiles(): Promise<void> {
  if (!await exists(FLOAT32)) {
    await timed("convert", Deno.execPath(), cli("convert", PTH, "--out", FLOAT32));
  }
  if (!await exists(INT8)) {
    await timed(
      "convert int8",
      Deno.execPath(),
      cli(
        "convert",
        PTH,
        "--out",
        INT8,
        "--dtype",
        "int8",
        "--calibrate",
        `${BENCH}/calibration`,
        "--preprocess",
        "TORCHVISION_V2",
      ),
    );
  }
}
