import { runInThisContext } from 'node:vm';

/**
 * The Node process itself. Inside a Jest test, `process` is a copy made for the sandbox, with listeners of its own
 * that Node never calls: an uncaught exception or unhandled rejection is only emitted on the real one (where Jest
 * listens too, and fails the file). `vm.runInThisContext` evaluates in Node's main context, whose `process` it is.
 */
const realProcess: NodeJS.Process =
  (runInThisContext('typeof process === "object" ? process : undefined') as NodeJS.Process | undefined) ?? process;

/** Collects `uncaughtException` and `unhandledRejection` of the (real) process while installed. */
export class ProcessFaults {
  readonly faults: Array<{ kind: 'uncaughtException' | 'unhandledRejection'; error: unknown }> = [];
  private readonly onUncaught = (error: unknown) => this.faults.push({ kind: 'uncaughtException', error });
  private readonly onUnhandled = (error: unknown) => this.faults.push({ kind: 'unhandledRejection', error });

  install(): void {
    this.faults.length = 0;
    realProcess.on('uncaughtException', this.onUncaught);
    realProcess.on('unhandledRejection', this.onUnhandled);
  }

  uninstall(): void {
    realProcess.off('uncaughtException', this.onUncaught);
    realProcess.off('unhandledRejection', this.onUnhandled);
  }

  /** A readable list for an assertion message. */
  describe(): string[] {
    return this.faults.map(({ kind, error }) => `${kind}: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
  }
}
