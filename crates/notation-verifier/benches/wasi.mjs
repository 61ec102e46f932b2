// Runs a criterion bench built for wasm32-wasip1 under Node's WASI (Node 20+):
//   node wasi.mjs <bench.wasm> [criterion args...]
// or, with --run first, any WASI command (an example, a test binary) with
// exactly the given arguments:
//   node wasi.mjs --run <program.wasm> [args...]
// The current directory is preopened; criterion writes its estimates under
// $CRITERION_HOME (relative to it), e.g. target/criterion-wasm, so that they
// do not overwrite the native ones. The exit code is the program's.
import { readFile } from 'node:fs/promises';
import { WASI } from 'node:wasi';

let argv = process.argv.slice(2);
const run = argv[0] === '--run';
if (run) argv = argv.slice(1);
const [wasmPath, ...args] = argv;
const env = {};
if (process.env.CRITERION_HOME) env.CRITERION_HOME = process.env.CRITERION_HOME;
const wasi = new WASI({
  version: 'preview1',
  args: run ? [wasmPath, ...args] : ['verify', '--bench', ...args],
  env,
  preopens: { '.': process.cwd() },
  returnOnExit: true,
});
const module = await WebAssembly.compile(await readFile(wasmPath));
const instance = await WebAssembly.instantiate(module, wasi.getImportObject());
process.exitCode = wasi.start(instance);
