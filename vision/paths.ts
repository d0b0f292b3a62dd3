/**
 * Image paths from files, folders and globs: what the `classify` command does with its
 * arguments, and what a program calls to classify a folder.
 *
 * @example
 * ```ts
 * import { expandImageArgs } from "./paths.ts";
 * console.log(await expandImageArgs(["testdata/images"]));
 * // [ "testdata/images/cat.jpg", "testdata/images/fish-bike.jpg", "testdata/images/grace_hopper.jpg" ]
 * ```
 *
 * @module
 */

/** Extensions (lower case, no dot) that a directory walk or a glob picks up. */
const IMAGE_EXTENSIONS: ReadonlySet<string> = new Set(["jpg", "jpeg", "png", "gif", "webp"]);

/**
 * Expands command-line image arguments into a list of files, in argument order, without
 * duplicates:
 *
 * - an existing file is kept as given, whatever its extension (the decoder reads magic bytes);
 * - a directory gives every image file below it, recursively, sorted by path;
 * - a pattern with `*` (any run of characters within one path segment), `?` (one character) or
 *   `**` (any number of directories) gives the matching image files, sorted by path.
 *
 * "Image file" means an extension of .jpg, .jpeg, .png, .gif or .webp (any case). Hidden names
 * (starting with ".") are skipped by directory walks and matched only by a pattern segment that
 * starts with "." too, as in a shell.
 * Symbolic links to files are followed; symbolic links to directories are not descended into, so
 * a walk cannot loop.
 *
 * @param args Paths, directories and glob patterns.
 * @returns The image files.
 * @throws {Deno.errors.NotFound} When an argument names nothing, or a directory or pattern
 *   yields no image file.
 *
 * @example
 * ```ts
 * import { expandImageArgs } from "./paths.ts";
 * const files = await expandImageArgs([
 *   "testdata/images/cat.jpg",
 *   "testdata/images",
 *   "testdata/**\/exif_orientation?.jpg",
 * ]);
 * console.log(files.length, files[1], files[3]); // 11 testdata/images/fish-bike.jpg testdata/fixtures/images/exif_orientation1.jpg
 * ```
 */
export async function expandImageArgs(args: string[]): Promise<string[]> {
  const seen = new Set<string>();
  const files: string[] = [];
  for (const arg of args) {
    const found = isGlob(arg) && !(await pathExists(arg))
      ? await globImageFiles(arg)
      : await pathImageFiles(arg);
    if (found.length === 0) throw new Deno.errors.NotFound(`${arg}: no image files found`);
    for (const file of found) {
      if (!seen.has(file)) {
        seen.add(file);
        files.push(file);
      }
    }
  }
  return files;
}

function isGlob(arg: string): boolean {
  return arg.includes("*") || arg.includes("?");
}

function hasImageExtension(path: string): boolean {
  const dot = path.lastIndexOf(".");
  return dot > path.lastIndexOf("/") && IMAGE_EXTENSIONS.has(path.slice(dot + 1).toLowerCase());
}

function joinPath(dir: string, name: string): string {
  if (dir === "") return name;
  return dir.endsWith("/") ? dir + name : `${dir}/${name}`;
}

function sortedUnique(paths: string[]): string[] {
  return [...new Set(paths)].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

async function pathExists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}

/** Files below or at `path`; Deno.stat's NotFound error names a missing path. */
async function pathImageFiles(path: string): Promise<string[]> {
  const info = await Deno.stat(path);
  if (!info.isDirectory) return [path];
  const found: string[] = [];
  await walkImageFiles(path, found);
  return sortedUnique(found);
}

/** Kind of a directory entry, following a symbolic link one step (a dangling link is neither). */
async function entryKind(path: string, entry: Deno.DirEntry): Promise<"file" | "dir" | "other"> {
  if (!entry.isSymlink) return entry.isFile ? "file" : entry.isDirectory ? "dir" : "other";
  try {
    return (await Deno.stat(path)).isFile ? "file" : "other";
  } catch {
    return "other";
  }
}

async function walkImageFiles(dir: string, found: string[]): Promise<void> {
  for await (const entry of Deno.readDir(dir)) {
    if (entry.name.startsWith(".")) continue;
    const path = joinPath(dir, entry.name);
    const kind = await entryKind(path, entry);
    if (kind === "dir") await walkImageFiles(path, found);
    else if (kind === "file" && hasImageExtension(path)) found.push(path);
  }
}

function segmentRegExp(segment: string): RegExp {
  const body = [...segment].map((ch) =>
    ch === "*" ? "[^/]*" : ch === "?" ? "[^/]" : ch.replace(/[\\^$.|+()[\]{}]/g, "\\$&")
  ).join("");
  return new RegExp(`^${body}$`);
}

async function globImageFiles(pattern: string): Promise<string[]> {
  const absolute = pattern.startsWith("/");
  const segments = pattern.split("/").filter((s) => s !== "" && s !== ".");
  // A trailing ** means every file below, as **/* does.
  if (segments.at(-1) === "**") segments.push("*");
  const found: string[] = [];
  await matchSegments(absolute ? "/" : "", segments, found);
  return sortedUnique(found);
}

/** Adds to `found` the image files below `dir` ("" is the working directory) that match. */
async function matchSegments(dir: string, segments: string[], found: string[]): Promise<void> {
  const [segment, ...rest] = segments;
  if (segment === "**") {
    await matchSegments(dir, rest, found); // ** as zero directories
    for (const sub of await listEntries(dir, (name) => !name.startsWith("."))) {
      if (sub.kind === "dir") await matchSegments(sub.path, segments, found);
    }
    return;
  }
  let candidates: Entry[];
  if (isGlob(segment)) {
    const regExp = segmentRegExp(segment);
    const dotOk = segment.startsWith(".");
    candidates = await listEntries(
      dir,
      (name) => regExp.test(name) && (dotOk || !name.startsWith(".")),
    );
  } else {
    candidates = await literalEntry(dir, segment);
  }
  for (const { path, kind } of candidates) {
    if (rest.length === 0) {
      if (kind === "file" && hasImageExtension(path)) found.push(path);
    } else if (kind === "dir") {
      await matchSegments(path, rest, found);
    }
  }
}

type Entry = { path: string; kind: "file" | "dir" | "other" };

async function listEntries(dir: string, keep: (name: string) => boolean): Promise<Entry[]> {
  const entries: Entry[] = [];
  try {
    for await (const entry of Deno.readDir(dir === "" ? "." : dir)) {
      if (!keep(entry.name)) continue;
      const path = joinPath(dir, entry.name);
      entries.push({ path, kind: await entryKind(path, entry) });
    }
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound || error instanceof Deno.errors.NotADirectory)) {
      throw error;
    }
  }
  return entries;
}

async function literalEntry(dir: string, name: string): Promise<Entry[]> {
  const path = joinPath(dir, name);
  try {
    const info = await Deno.stat(path);
    return [{ path, kind: info.isFile ? "file" : info.isDirectory ? "dir" : "other" }];
  } catch (error) {
    if (error instanceof Deno.errors.NotFound || error instanceof Deno.errors.NotADirectory) {
      return [];
    }
    throw error;
  }
}
