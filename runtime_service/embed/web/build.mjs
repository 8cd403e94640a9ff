// Bundles src/widget.js (with livekit-client) and its CSS into ../static/ with content-hashed
// names, and writes ../static/manifest.json mapping widget.js / widget.css to those names.
import { mkdirSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import * as esbuild from "esbuild";

const here = dirname(fileURLToPath(import.meta.url));
const outdir = join(here, "..", "static");
mkdirSync(outdir, { recursive: true });
for (const name of readdirSync(outdir)) rmSync(join(outdir, name), { recursive: true });

const result = await esbuild.build({
  entryPoints: [join(here, "src", "widget.js")],
  bundle: true,
  minify: true,
  format: "iife",
  target: ["es2020"],
  entryNames: "[name]-[hash]",
  outdir,
  metafile: true,
  legalComments: "eof",
  logLevel: "warning",
});

const manifest = {};
for (const [path, output] of Object.entries(result.metafile.outputs)) {
  if (!output.entryPoint && !path.endsWith(".css")) continue;
  const name = basename(path);
  manifest[name.replace(/-[A-Z0-9]+\./, ".")] = name;
}
writeFileSync(join(outdir, "manifest.json"), JSON.stringify(manifest, null, 2) + "\n");
console.log("embed bundle:", JSON.stringify(manifest));
