/**
 * What the simulator has learnt about the cluster as a whole, beyond any one node's state: the
 * committed prefix of the log (as far as any node has persisted a commit index covering it), and in
 * which terms commits were observed. The invariants judge the nodes against it.
 */
import type { Ready } from '../../src/raft/types.js';
import { assert } from '../../src/util/assert.js';
import { HashedLog } from './hashed-log.js';
import type { NodeHost } from './node-host.js';

export class History {
  /** Every entry known committed, with prefix hashes: the one log all nodes must agree on. */
  readonly committed = new HashedLog();
  /** For each term, the highest index a node persisted as committed while in that term. */
  readonly #highestCommittedByTerm = new Map<number, number>();
  #throughCache: { term: number; index: number } | undefined;

  /** A node took a Ready: a new commit index in its hard state extends what is known committed. */
  readyTaken(host: NodeHost, ready: Ready): void {
    const hardState = ready.hardState;
    if (hardState === undefined) return;
    const commit = hardState.commit;
    if (commit > this.committed.lastIndex) {
      // Whoever commits first still holds the entries: nobody compacts what it has not applied.
      assert(
        host.log.base.index <= this.committed.lastIndex,
        `node ${host.id} is the first to commit ${commit} but holds only (${host.log.base.index}, ${host.log.lastIndex}]`,
      );
      for (let index = this.committed.lastIndex + 1; index <= commit; index++) {
        this.committed.append(host.log.entry(index), 0);
      }
    }
    if (commit > (this.#highestCommittedByTerm.get(hardState.term) ?? 0)) {
      this.#highestCommittedByTerm.set(hardState.term, commit);
      this.#throughCache = undefined;
    }
  }

  /**
   * The highest index known committed by a node in `term` or earlier. A leader of `term` must hold
   * the log through it: entries committed in earlier terms by Leader Completeness, and those
   * committed in its own term because only it commits in its term.
   */
  committedThrough(term: number): number {
    const cached = this.#throughCache;
    if (cached?.term === term) return cached.index;
    let index = 0;
    for (const [observedTerm, highest] of this.#highestCommittedByTerm) {
      if (observedTerm <= term && highest > index) index = highest;
    }
    this.#throughCache = { term, index };
    return index;
  }
}
