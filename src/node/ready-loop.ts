/**
 * The host's ready loop: takes each Ready from the Raft core, has it handled (persist, send,
 * restore, apply, answer reads: the order written on `Ready`), calls advance(), then lets the host
 * do what follows a batch (leadership, membership, compaction). One loop at a time; it runs on a
 * later turn of the event loop than the input that made work, so that every request that arrives
 * meanwhile joins the same batch and shares its fsync (group commit).
 */
import type { RawNode } from '../raft/raw-node.js';
import type { Ready } from '../raft/types.js';
import { assert } from '../util/assert.js';

export interface ReadyHandler {
  /** Steps 0 to 4 of the Ready contract. */
  handle(ready: Ready): Promise<void>;
  /** After advance(): what the host does between batches. */
  afterAdvance(): Promise<void>;
  /** Whether the loop may go on (false once the node stopped or failed). */
  running(): boolean;
  /** A batch failed (e.g. an fsync): the node cannot continue. */
  onError(error: unknown): void;
}

/** A bound on one loop: past it the loop yields and is scheduled again. */
const readiesPerLoopMax = 1_000;

export class ReadyLoop {
  readonly #raft: RawNode;
  readonly #handler: ReadyHandler;
  #scheduled = false;
  #running: Promise<void> | undefined;

  constructor(raft: RawNode, handler: ReadyHandler) {
    this.#raft = raft;
    this.#handler = handler;
  }

  /** Whether a loop runs or is scheduled. */
  get busy(): boolean {
    return this.#scheduled || this.#running !== undefined;
  }

  /** The loop under way, if any (stop waits for it). */
  get running(): Promise<void> | undefined {
    return this.#running;
  }

  /** Runs the loop on a later turn of the event loop, unless one is already due. */
  schedule(): void {
    if (this.#scheduled || !this.#handler.running()) return;
    this.#scheduled = true;
    setImmediate(() => {
      this.#scheduled = false;
      // A loop under way takes this work too: it reschedules itself when it ends with work left.
      if (this.#running === undefined) this.#start().catch((error) => this.#handler.onError(error));
    });
  }

  /** Runs the loop now and waits for it; its failure is the caller's (the node's start). */
  async runNow(): Promise<void> {
    for (let attempt = 0; attempt < 1_000 && this.#running !== undefined; attempt++) {
      await this.#running.catch(() => undefined);
    }
    await this.#start();
  }

  #start(): Promise<void> {
    assert(this.#running === undefined, 'only one ready loop may run at a time');
    const run = this.#loop().finally(() => {
      this.#running = undefined;
      // A proposal made as the loop was finishing (by a continuation of a result) waits for no tick.
      if (this.#raft.hasReady()) this.schedule();
    });
    this.#running = run;
    return run;
  }

  async #loop(): Promise<void> {
    for (let round = 0; round < readiesPerLoopMax; round++) {
      if (!this.#raft.hasReady() || !this.#handler.running()) return;
      const ready = this.#raft.ready();
      await this.#handler.handle(ready);
      this.#raft.advance();
      await this.#handler.afterAdvance();
    }
  }
}
