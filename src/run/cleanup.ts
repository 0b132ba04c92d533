/**
 * A registry of things to undo if the run is cut short: running probe process groups and worktrees. Each edge
 * registers what it creates and unregisters it when it has cleaned up itself; the entry point installs the
 * registry so SIGINT, SIGTERM or an early exit still kill the groups and remove the worktrees.
 */

export interface Cleanup {
  /** What is being cleaned up, for messages. */
  label: string;
  /** The full cleanup. */
  run: () => Promise<void> | void;
  /** What can still be done synchronously inside a process `exit` handler. */
  runSync?: () => void;
}

/** A set of pending cleanups, each run at most once. */
export class Cleanups {
  private readonly pending = new Set<Cleanup>();
  private running: Promise<void> | undefined;

  /** Registers a cleanup; the returned function unregisters it (call it once the owner has cleaned up). */
  add(cleanup: Cleanup): () => void {
    this.pending.add(cleanup);
    return () => {
      this.pending.delete(cleanup);
    };
  }

  /** Number of cleanups still pending. */
  get size(): number {
    return this.pending.size;
  }

  /**
   * Runs every pending cleanup, newest first (processes registered after worktrees die before their folder
   * goes). Failures are collected, never thrown, so one failing cleanup does not stop the others.
   */
  runAll(): Promise<void> {
    this.running ??= (async () => {
      const items = [...this.pending].reverse();
      this.pending.clear();
      for (const item of items) {
        try {
          await item.run();
        } catch (e) {
          process.stderr.write(`memdelta: cleanup of ${item.label} failed: ${(e as Error).message}\n`);
        }
      }
      this.running = undefined;
    })();
    return this.running;
  }

  /** Runs the synchronous part of every pending cleanup (for `process.on('exit')`). */
  runAllSync(): void {
    const items = [...this.pending].reverse();
    this.pending.clear();
    for (const item of items) {
      try {
        item.runSync?.();
      } catch {
        // Best effort at exit.
      }
    }
  }

  /**
   * Installs handlers on `proc`: on SIGINT or SIGTERM every cleanup runs once and the process exits with
   * 128 + the signal number (130, 143); on exit the synchronous parts of what is left run. Returns an uninstaller.
   */
  install(proc: NodeJS.Process = process): () => void {
    let received = false;
    const onSignal = (signal: NodeJS.Signals) => {
      const code = signal === 'SIGINT' ? 130 : 143;
      // A second Ctrl-C means "now": the exit handler still kills the process groups synchronously.
      if (received) proc.exit(code);
      received = true;
      proc.stderr.write(`memdelta: ${signal} received, cleaning up\n`);
      void this.runAll().finally(() => proc.exit(code));
    };
    const onExit = () => this.runAllSync();
    proc.on('SIGINT', onSignal);
    proc.on('SIGTERM', onSignal);
    proc.on('exit', onExit);
    return () => {
      proc.off('SIGINT', onSignal);
      proc.off('SIGTERM', onSignal);
      proc.off('exit', onExit);
    };
  }
}

/** Another name for {@link Cleanups}. */
export type CleanupRegistry = Cleanups;

/** The process-wide registry that edges use unless given another one. */
export const defaultCleanups = new Cleanups();
