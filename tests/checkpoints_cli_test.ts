/**
 * What a user reads and gets from `convert`, `predict` and `classify` on real checkpoint layouts
 * (issue 15): warnings that name an assumption and `--shortcut` that reproduces torch, default
 * verification that refuses a disagreeing conversion before writing, NHWC sources, graphs of any
 * input rank, and refusals that give the true reason.
 */

import { assert, assertEquals, assertStringIncludes } from "@std/assert";
import { readNpy } from "../formats/npy.ts";
import { type CliResult, relativeError, runCli } from "./helpers.ts";

const root = new URL("../", import.meta.url).pathname;
const fixture = (file: string) => `${root}testdata/fixtures/checkpoints/${file}`;

const cli = (...args: string[]): Promise<CliResult> => runCli(args, { DENOZOO_OFFLINE: "1" });

const read = async (path: string) => readNpy(await Deno.readFile(path), path).data as Float32Array;
const exists = (path: string) => Deno.stat(path).then(() => true, () => false);

Deno.test("a state dict's option-A shortcut: convert warns naming it; predict --shortcut reproduces torch", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const converted = await cli(
      "convert",
      fixture("optA_avg_end.pth"),
      "--out",
      `${dir}/a.safetensors`,
    );
    assertEquals(converted.code, 0, converted.stderr);
    assertStringIncludes(
      converted.stderr,
      "warning: option-A shortcuts carry no weights, so the file cannot tell how they subsample and pad: assumed slice-both",
    );
    assertStringIncludes(converted.stderr, "--shortcut slice-end");
    const torch = await read(fixture("optA_avg_end_logits.npy"));
    const predictWith = (...extra: string[]) =>
      cli(
        "predict",
        "--weights",
        fixture("optA_avg_end.pth"),
        "--input",
        fixture("cifar_input.npy"),
        "--input-layout",
        "nchw",
        "--output",
        `${dir}/y.npy`,
        ...extra,
      );
    const guessed = await predictWith();
    assertEquals(guessed.code, 0, guessed.stderr);
    assertStringIncludes(guessed.stderr, "warning: option-A shortcuts carry no weights");
    assert(relativeError(await read(`${dir}/y.npy`), torch) > 0.05);
    const chosen = await predictWith("--shortcut", "avgpool-end");
    assertEquals(chosen.code, 0, chosen.stderr);
    assert(!chosen.stderr.includes("option-A"), chosen.stderr);
    const error = relativeError(await read(`${dir}/y.npy`), torch);
    assert(error < 1e-4, `relative error ${error}`);
    const bad = await predictWith("--shortcut", "zeros");
    assertEquals(bad.code, 2);
    assertStringIncludes(
      bad.stderr,
      "--shortcut must be one of slice-both, slice-end, avgpool-both, avgpool-end",
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("convert verifies an NHWC ONNX source by default before writing, and refuses one that disagrees", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const ok = await cli("convert", fixture("nhwc_resnet.onnx"), "--out", `${dir}/ok.safetensors`);
    assertEquals(ok.code, 0, ok.stderr);
    const lines = ok.stdout.split("\n");
    const verify = lines.findIndex((l) => l.startsWith("verify: "));
    assert(/top-1 agreement 2\/2 against onnxruntime/.test(lines[verify]), ok.stdout);
    assert(Number(/relative ([0-9.e+-]+)/.exec(lines[verify])![1]) < 1e-4, lines[verify]);
    assert(verify < lines.findIndex((l) => l.startsWith("wrote ")), "verified before writing");

    // The graph rounds its input to bfloat16; the zoo computes in float32: 4e-4 apart.
    const out = `${dir}/rounded.safetensors`;
    const refused = await cli("convert", fixture("nhwc_bfloat16_input.onnx"), "--out", out);
    assertEquals(refused.code, 1);
    assertStringIncludes(
      refused.stderr,
      "warning: the graph rounds values to a narrower float type",
    );
    assertStringIncludes(
      refused.stderr,
      `refusing to write ${out}: the converted model disagrees with the source`,
    );
    assert(
      /relative [0-9.]+e-4\), top-1 agreement 2\/2 against onnxruntime/.test(refused.stderr),
      refused.stderr,
    );
    assert(!(await exists(out)), "nothing is written");
    // On either engine: the export onnxruntime runs computes in float32 as well.
    for (const engine of ["tfjs", "onnxruntime"]) {
      const refusedOn = await cli(
        "convert",
        fixture("nhwc_bfloat16_input.onnx"),
        "--out",
        out,
        "--engine",
        engine,
      );
      assertEquals(refusedOn.code, 1, refusedOn.stderr);
      assertStringIncludes(refusedOn.stderr, `refusing to write ${out}`);
      assertStringIncludes(refusedOn.stderr, `against onnxruntime (converted model on ${engine}`);
      assert(!(await exists(out)), `nothing is written (--engine ${engine})`);
    }
    const forced = await cli(
      "convert",
      fixture("nhwc_bfloat16_input.onnx"),
      "--out",
      out,
      "--no-verify",
    );
    assertEquals(forced.code, 0, forced.stderr);
    assert(!forced.stdout.includes("verify:"), forced.stdout);
    assert(await exists(out));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("convert unwraps the torchvision reference layout and says what it used", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const result = await cli("convert", fixture("wrap_torchvision_ref.pth"), "--out", dir);
    assertEquals(result.code, 0, result.stderr);
    assertStringIncludes(
      result.stdout,
      "read:          weights from checkpoint['model'] (an EMA copy is also in the file, unused: checkpoint['model_ema']); also in the file, unused: optimizer, lr_scheduler, epoch, args",
    );
    assertStringIncludes(result.stdout, `wrote ${dir}/resnet8_custom.safetensors`);
    const predicted = await cli(
      "predict",
      "--weights",
      `${dir}/resnet8_custom.safetensors`,
      "--input",
      fixture("cifar_input.npy"),
      "--input-layout",
      "nchw",
      "--output",
      `${dir}/y.npy`,
    );
    assertEquals(predicted.code, 0, predicted.stderr);
    const error = relativeError(
      await read(`${dir}/y.npy`),
      await read(fixture("cifar_b_logits.npy")),
    );
    assert(error < 1e-4, `relative error ${error}`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a .pth that is no zoo ResNet gets its structural reason from every command, never Keras", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const source = fixture("notzoo_conv3x3_shortcut.pth");
    const runs = [
      await cli("convert", source, "--out", dir),
      await cli(
        "predict",
        "--weights",
        source,
        "--input",
        fixture("cifar_input.npy"),
        "--output",
        `${dir}/y.npy`,
      ),
      await cli("classify", `${root}testdata/images/cat.jpg`, "--model", source),
    ];
    for (const run of runs) {
      assertEquals(run.code, 1, run.stdout);
      assertStringIncludes(
        run.stderr,
        "conv 'layer2.0.shortcut.0' (3×3, 4→8) at position 10 does not fit",
      );
      assertStringIncludes(
        run.stderr,
        "export the network with torch.onnx.export and run the .onnx file",
      );
      assert(!/keras/i.test(run.stderr + run.stdout), run.stderr);
    }
    const whole = await cli("convert", fixture("whole_module.pth"), "--out", dir);
    assertEquals(whole.code, 1);
    assertStringIncludes(whole.stderr, "this is a whole pickled nn.Module (torch.save(model))");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("predict runs graphs of any input rank, and says why a graph runs as its own", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const cases = [
      [
        "audio_3d.onnx",
        "audio_3d_input.npy",
        "audio_3d_logits.npy",
        "[2,3]",
        "not a ResNet this zoo knows",
      ],
      [
        "keras_dense.h5",
        "keras_dense_input.npy",
        "keras_dense_output.npy",
        "[3,3]",
        "the file has no convolution",
      ],
      [
        "nhwc_uneven_softmax.onnx",
        "nhwc_input.npy",
        "nhwc_uneven_softmax_logits.npy",
        "[2,10]",
        "has pads [0, 0, 1, 1]",
      ],
    ];
    for (const [weights, input, expected, shape, reason] of cases) {
      const run = await cli(
        "predict",
        "--weights",
        fixture(weights),
        "--input",
        fixture(input),
        "--output",
        `${dir}/y.npy`,
      );
      assertEquals(run.code, 0, run.stderr);
      assertStringIncludes(run.stdout, `(its own graph): wrote logits ${shape}`);
      assertStringIncludes(run.stderr, `warning: runs as its own graph: `);
      assertStringIncludes(run.stderr, reason);
      const error = relativeError(await read(`${dir}/y.npy`), await read(fixture(expected)));
      assert(error < 1e-4, `${weights}: relative error ${error}`);
    }
    const softmax = await cli(
      "convert",
      fixture("nhwc_softmax.onnx"),
      "--out",
      `${dir}/s.safetensors`,
    );
    assertEquals(softmax.code, 1);
    assertStringIncludes(
      softmax.stderr,
      "it goes on with Softmax 'logits' (the zoo's models output the classifier's logits)",
    );
    assertStringIncludes(softmax.stderr, "ONNX graphs outside the zoo run as they are");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
