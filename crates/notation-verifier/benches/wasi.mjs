// Runs a criterion bench built for wasm32-wasip1 under Node's WASI (Node 20+):
//   node wasi.mjs <bench.wasm> [criterion args...]
// The current directory is preopened; criterion writes its estimates under
// $CRITERION_HOME (relative to it), e.g. target/criterion-wasm, so that they
// do not overwrite the native ones.
import { readFile } from 'node:fs/promises';
import { WASI } from 'node:wasi';

const [wasmPath, ...args] = process.argv.slice(2);
const env = {};
if (process.env.CRITERION_HOME) env.CRITERION_HOME = process.env.CRITERION_HOME;
const wasi = new WASI({
  version: 'preview1',
  args: ['verify', '--bench', ...args],
  env,
  preopens: { '.': process.cwd() },
});
const module = await WebAssembly.compile(await readFile(wasmPath));
const instance = await WebAssembly.instantiate(module, wasi.getImportObject());
wasi.start(instance);
