/**
 * A local JSR registry holding this package as jsr.io would serve it once published, so that
 * `jsr:@denozoo/zoo` can be tried for real without jsr.io: Deno fetches `jsr:` packages from
 * the `JSR_URL` environment variable's origin.
 *
 * ```sh
 * deno run -A tools/jsr_registry.ts build /tmp/jsr          # lay the package out
 * deno run -A tools/jsr_registry.ts serve /tmp/jsr --port 4873
 * JSR_URL=http://127.0.0.1:4873/ deno run -A jsr:@denozoo/zoo/cli classify cat.jpg
 * ```
 *
 * The layout, under `OUT/@scope/name/`:
 *
 * - `meta.json`: `{ scope, name, latest, versions: { [version]: {} } }`;
 * - `VERSION_meta.json`: `{ manifest, exports }`, where `manifest` maps each file (`/mod.ts`) to
 *   `{ size, checksum: "sha256-HEX" }` of the bytes served, and `exports` is deno.json's;
 * - `VERSION/PATH`: the files `deno publish --dry-run` lists, with every bare specifier in a
 *   module's imports and exports unfurled through deno.json's import map to the full
 *   `npm:…@version` specifier, as `deno publish` does on upload.
 *
 * @module
 */

import { scanReferences } from "./module_references.ts";

/** What deno.json says about the package. */
export interface PackageConfig {
  scope: string;
  name: string;
  version: string;
  /** Subpath (`.`, `./cli`) → file (`./mod.ts`). */
  exports: Record<string, string>;
  /** The import map: bare specifier → target. */
  imports: Record<string, string>;
}

/** One file of a published version, as the manifest lists it. */
export interface ManifestEntry {
  size: number;
  checksum: string;
}

/** What {@linkcode buildRegistry} laid out. */
export interface PublishedVersion extends PackageConfig {
  /** `/path` → size and checksum of the served bytes. */
  manifest: Record<string, ManifestEntry>;
}

/** Reads the package's name, version, exports and import map from `ROOT/deno.json`. */
export async function readPackageConfig(root: string): Promise<PackageConfig> {
  const config = JSON.parse(await Deno.readTextFile(`${root}/deno.json`));
  const match = /^@([a-z0-9-]+)\/([a-z0-9-]+)$/.exec(config.name ?? "");
  if (!match || typeof config.version !== "string") {
    throw new Error(`${root}/deno.json needs "name": "@scope/name" and a "version"`);
  }
  const exports = typeof config.exports === "string"
    ? { ".": config.exports }
    : config.exports ?? {};
  return {
    scope: match[1],
    name: match[2],
    version: config.version,
    exports,
    imports: config.imports ?? {},
  };
}

/**
 * The files `deno publish` would upload, relative to `root`, asked of `deno publish --dry-run`
 * itself (so deno.json's `publish.exclude`, .gitignore and Deno's own rules all apply).
 */
export async function publishedFiles(root: string): Promise<string[]> {
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["publish", "--dry-run", "--allow-dirty", "--no-check"],
    cwd: root,
    env: { NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const output = new TextDecoder().decode(stdout) + new TextDecoder().decode(stderr);
  if (code !== 0) throw new Error(`deno publish --dry-run failed:\n${output}`);
  const base = new URL(`file://${root.replace(/\/?$/, "/")}`).href;
  const files: string[] = [];
  for (const line of output.split("\n")) {
    const match = /^\s+(file:\/\/\S.*?) \([\d.]+[KMG]?B\)$/.exec(line);
    if (!match || !match[1].startsWith(base)) continue;
    const path = decodeURIComponent(match[1].slice(base.length));
    // In a git worktree `.git` is a file, and the dry run lists it; a clone's folder never is.
    if (path === ".git") continue;
    files.push(path);
  }
  if (files.length === 0) throw new Error(`deno publish --dry-run listed no files:\n${output}`);
  return files;
}

/**
 * Resolves a bare specifier through an import map as Deno does: an exact key, a key ending in
 * `/` as a prefix, or (Deno's extension) a `npm:`/`jsr:` key followed by a subpath. The longest
 * matching key wins; null when none matches.
 *
 * @example
 * ```ts
 * import { resolveImportMap } from "./jsr_registry.ts";
 * const imports = { "h5wasm": "npm:h5wasm@0.10.3" };
 * console.log(resolveImportMap("h5wasm/node", imports)); // "npm:h5wasm@0.10.3/node"
 * ```
 */
export function resolveImportMap(
  specifier: string,
  imports: Record<string, string>,
): string | null {
  let best: { key: string; target: string } | null = null;
  for (const [key, value] of Object.entries(imports)) {
    let target: string | null = null;
    if (key === specifier) target = value;
    else if (key.endsWith("/") && specifier.startsWith(key)) {
      target = value + specifier.slice(key.length);
    } else if (/^(npm|jsr):/.test(value) && specifier.startsWith(`${key}/`)) {
      target = `${value}/${specifier.slice(key.length + 1)}`;
    }
    if (target !== null && (!best || key.length > best.key.length)) best = { key, target };
  }
  return best?.target ?? null;
}

/** Whether a specifier is bare: no scheme, not relative, not absolute. */
function isBare(specifier: string): boolean {
  return !/^(\.{0,2}\/|[a-z][a-z0-9+.-]*:)/i.test(specifier);
}

/**
 * Rewrites every bare specifier that a module imports or re-exports (statically, as a type or
 * by `import("…")` with a literal) to its import-map target, as `deno publish` does. Relative
 * and full (`npm:`, `node:`, `https:`) specifiers stay; `import.meta.resolve` and
 * `new URL(…, import.meta.url)` are not imports and stay too. A bare specifier the map does
 * not resolve is an error, naming the file and line: the published module could not load it.
 *
 * @example
 * ```ts
 * import { unfurl } from "./jsr_registry.ts";
 * const source = 'import * as tf from "@tensorflow/tfjs-core";\nimport "./local.ts";\n';
 * const imports = { "@tensorflow/tfjs-core": "npm:@tensorflow/tfjs-core@4.22.0" };
 * console.log(unfurl(source, imports, "x.ts"));
 * // import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
 * // import "./local.ts";
 * ```
 */
export function unfurl(source: string, imports: Record<string, string>, file: string): string {
  let result = source;
  const references = scanReferences(source)
    .filter((r) => r.kind === "import" || r.kind === "export" || r.kind === "dynamic import")
    .filter((r) => isBare(r.specifier));
  // From the end, so earlier offsets stay valid.
  for (const reference of references.reverse()) {
    const target = resolveImportMap(reference.specifier, imports);
    if (target === null || source.slice(reference.start, reference.end) !== reference.specifier) {
      throw new Error(
        `${file}:${reference.line}: "${reference.specifier}" is not in deno.json's imports`,
      );
    }
    result = result.slice(0, reference.start) + target + result.slice(reference.end);
  }
  return result;
}

/** Whether a published file is a module whose specifiers are unfurled. */
function isModule(path: string): boolean {
  return /\.(ts|mts|tsx|js|mjs|jsx)$/.test(path);
}

async function sha256(bytes: Uint8Array<ArrayBuffer>): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  return Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("");
}

async function writeFile(path: string, bytes: Uint8Array): Promise<void> {
  await Deno.mkdir(path.slice(0, path.lastIndexOf("/")), { recursive: true });
  await Deno.writeFile(path, bytes);
}

/**
 * Lays the package at `root` out under `out` as a JSR registry serves it (see the module
 * documentation), replacing an earlier layout of the same version.
 */
export async function buildRegistry(root: string, out: string): Promise<PublishedVersion> {
  const config = await readPackageConfig(root);
  const packageDir = `${out}/@${config.scope}/${config.name}`;
  await Deno.remove(`${packageDir}/${config.version}`, { recursive: true }).catch((error) => {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  });
  const manifest: Record<string, ManifestEntry> = {};
  for (const path of await publishedFiles(root)) {
    let bytes = await Deno.readFile(`${root}/${path}`);
    if (isModule(path)) {
      const source = new TextDecoder().decode(bytes);
      bytes = new TextEncoder().encode(unfurl(source, config.imports, path));
    }
    await writeFile(`${packageDir}/${config.version}/${path}`, bytes);
    manifest[`/${path}`] = { size: bytes.length, checksum: `sha256-${await sha256(bytes)}` };
  }
  const json = (value: unknown) => new TextEncoder().encode(JSON.stringify(value, null, 2));
  await writeFile(
    `${packageDir}/meta.json`,
    json({
      scope: config.scope,
      name: config.name,
      latest: config.version,
      versions: { [config.version]: {} },
    }),
  );
  await writeFile(
    `${packageDir}/${config.version}_meta.json`,
    json({ manifest, exports: config.exports }),
  );
  return { ...config, manifest };
}

const CONTENT_TYPES: Record<string, string> = {
  ts: "application/typescript; charset=utf-8",
  mts: "application/typescript; charset=utf-8",
  tsx: "text/tsx; charset=utf-8",
  js: "application/javascript; charset=utf-8",
  mjs: "application/javascript; charset=utf-8",
  json: "application/json; charset=utf-8",
  md: "text/markdown; charset=utf-8",
  wasm: "application/wasm",
};

/**
 * The content type a file is served with: TypeScript as `application/typescript` (Deno takes
 * a module's media type from it), JSON, and bytes (`.safetensors`, …) as
 * `application/octet-stream`.
 *
 * @example
 * ```ts
 * import { contentType } from "./jsr_registry.ts";
 * console.log(contentType("/@denozoo/zoo/0.1.0/mod.ts")); // "application/typescript; charset=utf-8"
 * ```
 */
export function contentType(path: string): string {
  const name = path.slice(path.lastIndexOf("/") + 1);
  const extension = name.includes(".") ? name.slice(name.lastIndexOf(".") + 1) : "";
  if (CONTENT_TYPES[extension]) return CONTENT_TYPES[extension];
  return /^(LICENSE|README)/.test(name) ? "text/plain; charset=utf-8" : "application/octet-stream";
}

/** A request handler serving the registry laid out under `dir` (GET and HEAD only). */
export function registryHandler(dir: string): (request: Request) => Promise<Response> {
  return async (request) => {
    if (request.method !== "GET" && request.method !== "HEAD") {
      return new Response("method not allowed", { status: 405 });
    }
    const path = decodeURIComponent(new URL(request.url).pathname);
    if (path.split("/").some((segment) => segment === ".." || segment === ".")) {
      return new Response("bad path", { status: 400 });
    }
    try {
      const bytes = await Deno.readFile(`${dir}${path}`);
      return new Response(request.method === "HEAD" ? null : bytes, {
        headers: { "content-type": contentType(path), "content-length": `${bytes.length}` },
      });
    } catch (error) {
      if (error instanceof Deno.errors.NotFound || error instanceof Deno.errors.IsADirectory) {
        return new Response("not found", { status: 404 });
      }
      throw error;
    }
  };
}

/** Options of {@linkcode serveRegistry}. */
export interface ServeOptions {
  /** 0 (the default) picks a free port. */
  port?: number;
  /** Called with each request's method, path and response status (e.g. to log them). */
  onRequest?: (method: string, path: string, status: number) => void;
}

/** Serves the registry under `dir` on 127.0.0.1; its `JSR_URL` is `http://127.0.0.1:PORT/`. */
export function serveRegistry(
  dir: string,
  options: ServeOptions = {},
): Deno.HttpServer<Deno.NetAddr> {
  const handler = registryHandler(dir);
  return Deno.serve(
    { hostname: "127.0.0.1", port: options.port ?? 0, onListen: () => {} },
    async (request) => {
      const response = await handler(request);
      options.onRequest?.(request.method, new URL(request.url).pathname, response.status);
      return response;
    },
  );
}

if (import.meta.main) {
  const [command, dir, ...rest] = Deno.args;
  const usage = "usage: jsr_registry.ts build OUT [--root DIR] | serve OUT [--port N]";
  const option = (name: string) => {
    const at = rest.indexOf(name);
    return at < 0 ? undefined : rest[at + 1];
  };
  if (command === "build" && dir) {
    const root = option("--root") ??
      decodeURIComponent(new URL("..", import.meta.url).pathname).replace(/\/$/, "");
    const published = await buildRegistry(root, dir);
    console.log(
      `@${published.scope}/${published.name}@${published.version}: ` +
        `${Object.keys(published.manifest).length} files in ${dir}`,
    );
  } else if (command === "serve" && dir) {
    const server = serveRegistry(dir, {
      port: Number(option("--port") ?? 0),
      onRequest: (method, path, status) => console.error(`${status} ${method} ${path}`),
    });
    console.log(`JSR_URL=http://127.0.0.1:${server.addr.port}/`);
  } else {
    console.error(usage);
    Deno.exit(2);
  }
}
