// Runs the unit tests (src/**/*.test.ts) with node's own runner: esbuild turns each into plain
// JavaScript first (Node 20 cannot run TypeScript), so no test framework is needed.
import { build } from "esbuild";
import { readdirSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { spawnSync } from "node:child_process";

const WEB = new URL(".", import.meta.url).pathname;
const OUT = join(WEB, ".test-build");

function walk(dir) {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? walk(path) : [path];
  });
}

const tests = walk(join(WEB, "src")).filter((p) => p.endsWith(".test.ts"));
rmSync(OUT, { recursive: true, force: true });
await build({
  entryPoints: tests,
  outdir: OUT,
  outbase: join(WEB, "src"),
  bundle: true,
  platform: "node",
  format: "esm",
  outExtension: { ".js": ".mjs" },
  external: ["node:*"],
  logLevel: "warning",
});
const built = walk(OUT).filter((p) => p.endsWith(".mjs"));
const result = spawnSync(process.execPath, ["--test", ...built], { stdio: "inherit" });
rmSync(OUT, { recursive: true, force: true });
process.exit(result.status ?? 1);
