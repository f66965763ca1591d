// Builds the web UI into ../heron/web/static/: hashed bundles, their gzip twins, index.html and
// manifest.json, which records a hash of every source file so a test can tell a stale bundle.
// Reproducible: the same sources and package-lock.json give byte-identical output.
import { build } from "esbuild";
import { createHash } from "node:crypto";
import { mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { basename, join, relative, sep } from "node:path";
import { gzipSync } from "node:zlib";

const WEB = new URL(".", import.meta.url).pathname;
const OUT = join(WEB, "..", "heron", "web", "static");
const ASSETS = join(OUT, "assets");
/** Files besides src/ whose change changes the bundle (tests/*.test.ts are not bundled). */
const EXTRA = ["build.mjs", "package-lock.json", "tsconfig.json", "index.html"];

function walk(dir) {
  return readdirSync(dir)
    .flatMap((name) => {
      const path = join(dir, name);
      return statSync(path).isDirectory() ? walk(path) : [path];
    });
}

/** sha256 over "relative/path\0content\0" of every source, in sorted order (tests recompute it). */
export function sourcesHash() {
  const files = [...walk(join(WEB, "src")), ...EXTRA.map((f) => join(WEB, f))]
    .map((p) => relative(WEB, p).split(sep).join("/"))
    .filter((p) => !p.endsWith(".test.ts"))
    .sort();
  const hash = createHash("sha256");
  for (const rel of files) {
    hash.update(rel + "\0");
    hash.update(readFileSync(join(WEB, rel)));
    hash.update("\0");
  }
  return hash.digest("hex");
}

async function main() {
  rmSync(ASSETS, { recursive: true, force: true });
  mkdirSync(ASSETS, { recursive: true });
  const result = await build({
    entryPoints: { app: join(WEB, "src", "main.tsx"), status: join(WEB, "src", "status", "poll.ts") },
    bundle: true,
    minify: true,
    format: "esm",
    target: "es2020",
    jsx: "automatic",
    jsxImportSource: "preact",
    outdir: ASSETS,
    entryNames: "[name]-[hash]",
    // Lazy pages (the terminal's xterm) become chunks loaded on first use, outside the first load.
    splitting: true,
    chunkNames: "chunk-[hash]",
    assetNames: "[name]-[hash]",
    metafile: true,
    legalComments: "none",
    charset: "utf8",
    logLevel: "warning",
  });
  const files = {};
  const sizes = {};
  let appOut = null;
  for (const [out, meta] of Object.entries(result.metafile.outputs)) {
    const name = basename(out);
    if (name.endsWith(".map")) continue;
    const entry = meta.entryPoint ? basename(meta.entryPoint).replace(/\.tsx?$/, "") : null;
    const key = name.endsWith(".css") ? `${name.split("-")[0]}.css` : entry === "main" ? "app.js" : entry === "poll" ? "status.js" : `lazy/${name}`;
    files[key] = name;
    if (entry === "main") appOut = out;
    const raw = readFileSync(join(ASSETS, name));
    const zipped = gzipSync(raw, { level: 9 });
    writeFileSync(join(ASSETS, name + ".gz"), zipped);
    sizes[name] = { bytes: raw.length, gzip_bytes: zipped.length };
  }
  const html = readFileSync(join(WEB, "index.html"), "utf8")
    .replace("%APP_JS%", `/assets/${files["app.js"]}`)
    .replace("%APP_CSS%", `/assets/${files["app.css"]}`);
  writeFileSync(join(OUT, "index.html"), html);
  // What the overview's first load fetches: app.js, the chunks it imports statically, app.css.
  const staticImports = result.metafile.outputs[appOut].imports.filter((i) => i.kind === "import-statement").map((i) => basename(i.path));
  const first_load = [files["app.js"], ...staticImports, files["app.css"]];
  const manifest = { sources_sha256: sourcesHash(), files, first_load, sizes };
  writeFileSync(join(OUT, "manifest.json"), JSON.stringify(manifest, null, 2) + "\n");
  const total = Object.values(sizes).reduce((n, s) => n + s.gzip_bytes, 0);
  console.log(`built ${Object.keys(files).join(", ")} into ${relative(process.cwd(), OUT)} (${(total / 1024).toFixed(1)} KiB gzip)`);
}

if (process.argv[1] && process.argv[1].endsWith("build.mjs")) await main();
