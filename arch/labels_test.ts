import { assertEquals, assertThrows } from "@std/assert";
import {
  classNames,
  imagenetLabels,
  isLabelSet,
  LABEL_SETS,
  labelsFor,
  parseLabelFile,
} from "./labels.ts";
import { ZooFormatError } from "./errors.ts";

Deno.test("a label set of another size than the model's classes is refused, naming both", () => {
  assertEquals(classNames("cifar10", 10), labelsFor("cifar10"));
  assertEquals(classNames(["a", "b"], 2), ["a", "b"]);
  // Issue 14: `--labels imagenet` on the 10-class model printed `tiger_shark 100.00%`.
  assertThrows(
    () => classNames("imagenet", 10),
    RangeError,
    "label set 'imagenet' has 1000 names, but the model has 10 classes",
  );
  assertThrows(
    () => classNames(["a", "b", "c"], 7),
    RangeError,
    "the class names given has 3 names, but the model has 7 classes",
  );
});

Deno.test("the label sets are one list, and every set in it has names", () => {
  assertEquals(LABEL_SETS, ["imagenet", "imagenet_background", "cifar10"]);
  for (const set of LABEL_SETS) assertEquals(isLabelSet(set), true);
  assertEquals(isLabelSet("cifar100"), false);
  assertEquals(LABEL_SETS.map((set) => labelsFor(set).length), [1000, 1001, 10]);
  // TensorFlow's 1001 outputs: output 0 is background, output i + 1 ImageNet class i.
  const shifted = labelsFor("imagenet_background");
  assertEquals(shifted[0], "background");
  assertEquals(shifted.slice(1), labelsFor("imagenet"));
});

Deno.test("a label file is read in its three forms", async () => {
  // Keras's imagenet_class_index.json, as shipped in testdata: {"0": ["n01440764", "tench"], …}.
  const path = "testdata/labels/imagenet_class_index.json";
  assertEquals(parseLabelFile(await Deno.readTextFile(path), path), imagenetLabels());
  assertEquals(parseLabelFile('["cat", "dog"]', "a.json"), ["cat", "dog"]);
  assertEquals(parseLabelFile('{"1": "dog", "0": "cat"}', "b.json"), ["cat", "dog"]);
  assertEquals(parseLabelFile("cat\r\ndog\n\n", "c.txt"), ["cat", "dog"]);
  assertEquals(parseLabelFile("  tabby cat \nsports car\n", "d.txt"), ["tabby cat", "sports car"]);
});

Deno.test("a file that is no label file is refused, naming the file and what is wrong", () => {
  const cases: [string, string][] = [
    ["", "e.txt: no class names in the file"],
    ["cat\n\ndog\n", "e.txt: line 2 is blank"],
    ['["cat", 3]', "e.txt: item 1 is not a non-empty string"],
    [
      '{"0": "cat", "2": "dog"}',
      "e.txt: the keys must be the class indices 0 to 1; '1' is missing",
    ],
    ['{"0": ["n1", 7]}', "e.txt: class '0' must be a name or an [id, name] pair, got"],
    ["[cat", "e.txt: invalid JSON"],
  ];
  for (const [text, message] of cases) {
    assertThrows(() => parseLabelFile(text, "e.txt"), ZooFormatError, message);
  }
});
