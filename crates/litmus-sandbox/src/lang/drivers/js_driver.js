// litmus JavaScript driver (protocol: src/lang/driver.rs).
//
// Runs in one Node process: the solution is compiled with vm.Script (parse
// check) and run in the global context; each snippet runs as its own script
// wrapped in a block (so `const x` in two tests does not clash) with a
// per-snippet timeout (vm's `timeout` interrupts synchronous loops; returned
// promises are awaited up to the remaining budget). The report channel
// (fd 3) and the nonce live in this module's scope, which scripts run with
// vm cannot see. The solution runs in the same realm, so what the driver
// reports and runs with (JSON.stringify, fs.writeSync, assert, vm.Script and
// its runInThisContext, Date.now) is taken before it runs, and every example
// and test is read and compiled before it runs: replacing or patching those
// later (fs.readFileSync to hide the tests, vm.Script to skip them) does not
// reach the report. What stays shared is the realm itself (Promise, the
// builtins a test calls): an answer written against this driver can still
// make a failing test pass, as the README says.
'use strict';
const fs = require('fs');
const vm = require('vm');
const path = require('path');
const assertModule = require('assert');

const writeSync = fs.writeSync.bind(fs);
const readFileSync = fs.readFileSync.bind(fs);
const stringify = JSON.stringify;
const ownKeys = Object.keys;
const Script = vm.Script;
const runInThisContext = vm.Script.prototype.runInThisContext;
const apply = Reflect.apply;
const now = Date.now;
Object.freeze(assertModule);
Object.freeze(assertModule.strict);

const REPORT_FD = 3;
const ERR_CAP = 4000;
const DRIVER_NAME = path.basename(__filename);

class SnippetTimeout extends Error {}

function formatError(e) {
  let text;
  if (e instanceof Error) {
    text = (e.stack || `${e.name}: ${e.message}`)
      .split('\n')
      .filter((l) => !l.includes(DRIVER_NAME) && !l.includes('node:vm') && !l.includes('node:internal'))
      .join('\n');
  } else {
    let s;
    try { s = JSON.stringify(e); } catch (_) { s = String(e); }
    text = `Uncaught (non-Error) value: ${s}`;
  }
  text = text.trim();
  return text.length > ERR_CAP ? text.slice(0, ERR_CAP) + '…' : text;
}

async function main() {
  const lines = fs.readFileSync(0, 'utf8').split('\n');
  const nonce = lines[0].trim();
  const [mode, startKind, startIndexS, phaseS, snippetS, nExS, nTestsS] = lines[1].trim().split(/\s+/);
  const startIndex = parseInt(startIndexS, 10);
  const phaseMs = parseFloat(phaseS) * 1000;
  const snippetMs = parseFloat(snippetS) * 1000;
  const nEx = parseInt(nExS, 10);
  const nTests = parseInt(nTestsS, 10);

  // `obj` is an object literal of primitives: its own keys, each value
  // serialized alone (a primitive: no toJSON looked up).
  const emit = (obj) => {
    let line = '{"nonce":' + stringify(nonce);
    for (const k of ownKeys(obj)) {
      const v = obj[k];
      line += ',' + stringify(k) + ':' + (v === undefined ? 'null' : stringify(v));
    }
    writeSync(REPORT_FD, line + '}\n');
  };

  // Stray async errors of the solution must not take the driver down.
  process.on('unhandledRejection', (e) => { process.stderr.write(`unhandled rejection: ${formatError(e)}\n`); });
  process.on('uncaughtException', (e) => { process.stderr.write(`uncaught exception: ${formatError(e)}\n`); });

  let setupScript;
  try {
    setupScript = new Script(readFileSync('setup.js', 'utf8'), { filename: 'setup.js' });
  } catch (e) {
    emit({ event: 'infra', error: `the spec's setup code does not compile: ${formatError(e)}` });
    emit({ event: 'done' });
    return;
  }
  let solScript;
  try {
    solScript = new Script(readFileSync('solution.js', 'utf8'), { filename: 'solution.js' });
  } catch (e) {
    emit({ event: 'parsed', ok: false, error: formatError(e) });
    emit({ event: 'done' });
    return;
  }
  emit({ event: 'parsed', ok: true });
  if (mode === 'check') {
    emit({ event: 'done' });
    return;
  }

  // Every example and test, read and compiled before the setup and the
  // solution run: a script, or the error that it does not compile.
  const compiled = {};
  for (const [kind, n, folder] of [['example', nEx, 'examples'], ['test', nTests, 'tests']]) {
    compiled[kind] = [];
    for (let i = 0; i < n; i++) {
      const src = readFileSync(`${folder}/${i}.js`, 'utf8');
      try {
        compiled[kind].push({ script: new Script(`{\n${src}\n}`, { filename: `<${kind} ${i}>`, lineOffset: -1 }) });
      } catch (e) {
        compiled[kind].push({ error: formatError(e) });
      }
    }
  }

  // CommonJS-style globals for the solution and snippets; `assert`,
  // `require` and `console.assert` are put back before each snippet.
  const mod = { exports: {} };
  globalThis.module = mod;
  globalThis.exports = mod.exports;
  const AssertionError = assertModule.AssertionError;
  const consoleAssert = (cond, ...msg) => {
    if (!cond) throw new AssertionError({ message: msg.length ? msg.join(' ') : 'console.assert failed' });
  };
  const checkers = () => {
    globalThis.require = require;
    globalThis.assert = assertModule;
    console.assert = consoleAssert;
  };
  checkers();

  async function run(script, budgetMs) {
    const t0 = now();
    let timer;
    try {
      let r = apply(runInThisContext, script, [{ timeout: Math.max(1, Math.floor(budgetMs)), displayErrors: false }]);
      if (r && typeof r.then === 'function') {
        const rest = Math.max(1, budgetMs - (now() - t0));
        r = await Promise.race([
          r,
          new Promise((_, reject) => { timer = setTimeout(() => reject(new SnippetTimeout()), rest); }),
        ]);
      }
      return { ok: true, error: null, timed_out: false, ms: now() - t0 };
    } catch (e) {
      const timedOut = e instanceof SnippetTimeout || (e && e.code === 'ERR_SCRIPT_EXECUTION_TIMEOUT');
      return {
        ok: false,
        error: timedOut ? `timed out after ${(budgetMs / 1000).toFixed(2)}s` : formatError(e),
        timed_out: timedOut,
        ms: now() - t0,
      };
    } finally {
      if (timer) clearTimeout(timer);
    }
  }

  const setupResult = await run(setupScript, phaseMs);
  if (!setupResult.ok) {
    emit({ event: 'infra', error: `the spec's setup code failed: ${setupResult.error}` });
    emit({ event: 'done' });
    return;
  }
  const loaded = await run(solScript, phaseMs);
  if (startKind === 'load') {
    emit({ event: 'executed', ok: loaded.ok, error: loaded.error, timed_out: loaded.timed_out, ms: loaded.ms });
  }
  if (!loaded.ok) {
    emit({ event: 'done' });
    return;
  }

  const order = { load: 0, example: 1, test: 2 };
  for (const [kind, n] of [['example', nEx], ['test', nTests]]) {
    if (order[kind] < order[startKind]) continue;
    const first = kind === startKind ? startIndex : 0;
    const deadline = now() + phaseMs;
    for (let i = first; i < n; i++) {
      const remaining = deadline - now();
      if (remaining <= 1) {
        emit({ event: 'result', kind, index: i, ok: false, timed_out: true, ms: 0,
               error: `the ${kind} phase used up its ${(phaseMs / 1000).toFixed(1)}s budget` });
        continue;
      }
      const { script, error } = compiled[kind][i];
      emit({ event: 'begin', kind, index: i });
      checkers();
      if (error !== undefined) {
        emit({ event: 'result', kind, index: i, ok: false, timed_out: false, ms: 0, error });
        continue;
      }
      const r = await run(script, Math.min(snippetMs, remaining));
      emit({ event: 'result', kind, index: i, ok: r.ok, error: r.error, timed_out: r.timed_out, ms: r.ms });
    }
  }
  emit({ event: 'done' });
}

// Exit as soon as everything is reported: do not wait for timers the
// solution left behind.
main().then(() => process.exit(0), (e) => {
  process.stderr.write(`litmus driver failure: ${formatError(e)}\n`);
  process.exit(70);
});
