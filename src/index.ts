/**
 * Action entry: runs the action and turns any error into one `core.setFailed` with its message. Everything else
 * (outputs, summary, comment) has been published by then.
 */
import * as core from '@actions/core';
import { runAction } from './action/run.js';

async function run(): Promise<void> {
  try {
    await runAction({ env: process.env, write: (text) => process.stdout.write(text) });
  } catch (e) {
    const known = e instanceof Error && !['Error', 'TypeError', 'RangeError', 'SyntaxError'].includes(e.name);
    const message = e instanceof Error ? e.message : String(e);
    core.setFailed(known ? message : `memdelta: unexpected error: ${message}`);
  }
}

void run();
