/**
 * CLI entry: `memdelta compare | render | probe`. Every error ends here, once: a one-line message on stderr and
 * exit status 2 (could not compare), never a stack trace.
 */
import { runCli } from './cli/main.js';

runCli(process.argv.slice(2), {
  stdout: process.stdout,
  stderr: process.stderr,
  env: process.env,
  cwd: process.cwd(),
}).then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    process.stderr.write(`memdelta: internal error: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exitCode = 2;
  },
);
