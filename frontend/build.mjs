// Builds the front end into ../src/tensorsight/web/static/ (committed; CI rebuilds and diffs it).
//
//   app.js + app.css   the page (entry src/main.js; CSS imported by any module lands in app.css)
//   widget.js          the anywidget ES module (entry src/widget.js), CSS inlined as text
//   index.html         copied from src/index.html
//
// The output must be byte-for-byte reproducible: no timestamps, no absolute paths, no source maps.
import { build, context } from "esbuild";
import { copyFile, mkdir, readFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const outdir = join(here, "..", "src", "tensorsight", "web", "static");
const watch = process.argv.includes("--watch");

const common = {
  bundle: true,
  format: "esm",
  target: ["es2020"],
  minify: true,
  legalComments: "none",
  charset: "utf8",
  logLevel: "warning",
  absWorkingDir: here,
};

const page = {
  ...common,
  entryPoints: { app: "src/main.js" },
  outdir,
  loader: { ".css": "css" },
};

// The widget cannot load a second file, so it imports the page's built CSS as a string.
const builtCss = {
  name: "built-css",
  setup(b) {
    b.onResolve({ filter: /^tensorsight:css$/ }, () => ({ path: "app.css", namespace: "built-css" }));
    b.onLoad({ filter: /.*/, namespace: "built-css" }, async () => ({
      contents: await readFile(join(outdir, "app.css"), "utf8"),
      loader: "text",
    }));
  },
};

const widget = {
  ...common,
  entryPoints: { widget: "src/widget.js" },
  outdir,
  loader: { ".css": "empty" },
  plugins: [builtCss],
};

await mkdir(outdir, { recursive: true });
await build(page);
await build(widget);
await copyFile(join(here, "src", "index.html"), join(outdir, "index.html"));

if (watch) {
  const ctx = await context({ ...page, plugins: [{ name: "rebuild-widget", setup(b) {
    b.onEnd(async () => { await build(widget); console.log("rebuilt"); });
  } }] });
  await ctx.watch();
}
