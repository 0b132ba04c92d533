/**
 * Runs the user's optional per-side setup command (e.g. `pip install -e .`) in a worktree. The command is
 * a shell string from the user's own configuration, so it goes through `sh -c`; it gets the same
 * allow-listed environment as the benchmark and the same bounds.
 */
import { runProjectChild, type ProcessOutcome, type ProjectChildOptions } from './process.js';

export interface SetupOptions extends ProjectChildOptions {
  /** Shell command, run with `sh -c`. */
  command: string;
  /** The worktree to run in. */
  cwd: string;
}

/** Runs the setup command; the outcome's tails explain a failure. Never throws for the child. */
export async function runSetup(options: SetupOptions): Promise<ProcessOutcome> {
  if (options.command.trim() === '') throw new Error('The setup command is empty.');
  return runProjectChild({ ...options, file: 'sh', args: ['-c', options.command] });
}

/** One line saying why setup failed, or undefined when it succeeded. */
export function describeSetupFailure(command: string, outcome: ProcessOutcome): string | undefined {
  const what = `setup command ${JSON.stringify(command)}`;
  switch (outcome.kind) {
    case 'ok':
      return undefined;
    case 'exit':
      return `The ${what} exited with code ${outcome.exitCode}.`;
    case 'timeout':
      return `The ${what} timed out after ${outcome.durationMs} ms and was killed.`;
    case 'signal':
      if (outcome.cancelled) return `The ${what} was cancelled.`;
      return `The ${what} was killed by ${outcome.signal}${outcome.likelyOom ? ' (likely out of memory)' : ''}.`;
    case 'spawn':
      return `The ${what} could not be started: ${outcome.error ?? 'unknown error'}.`;
  }
}
