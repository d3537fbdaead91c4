// Bundle the screen widget's ES modules (workbench/widget_src/) into the one file anywidget
// loads (workbench/static/screen.js, committed). `npm run build` runs this; the staleness test
// (tests/test_widget_src.py) runs it with another output file and compares.
//
// Usage: node scripts/build_widget.mjs [outfile]
import path from "node:path";
import { fileURLToPath } from "node:url";

import * as esbuild from "esbuild";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const outfile = path.resolve(process.argv[2] ?? path.join(root, "workbench", "static", "screen.js"));

await esbuild.build({
  absWorkingDir: root, // the bundle's "// workbench/widget_src/x.js" comments do not depend on the caller's cwd
  entryPoints: ["workbench/widget_src/index.js"],
  outfile,
  bundle: true,
  format: "esm",
  target: "es2022",
  charset: "utf8",
  legalComments: "none",
  banner: { js: "// Generated from workbench/widget_src/ by esbuild (npm run build): do not edit by hand." },
  logLevel: "warning",
});
