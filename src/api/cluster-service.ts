/**
 * What the HTTP layer needs from the node for the cluster routes (`GET /cluster`,
 * `POST /cluster/members`, `DELETE /cluster/members/:id`, and the test-only `POST /debug/faults`).
 * Failures are thrown as LockdError (src/errors.ts).
 */
import type { NodeId } from '../raft/types.js';

export interface MemberStatus {
  readonly id: NodeId;
  /** `host:port` of the member's HTTP API, and of its peer link. */
  readonly clientAddress: string;
  readonly peerAddress: string;
  readonly role: 'leader' | 'follower' | 'learner';
  /** Known on the leader only: the highest log index the member is known to hold. */
  readonly matchIndex: number | null;
  /** Milliseconds since this node last heard from the member; null for itself or never. */
  readonly lastContactMsAgo: number | null;
  /** Whether this node's peer link to the member is up (true for itself). */
  readonly reachable: boolean;
}

export interface ClusterStatus {
  readonly id: NodeId;
  readonly role: 'leader' | 'follower' | 'candidate' | 'pre-candidate' | 'learner';
  readonly term: number;
  /** The leader's id, null when none is known. */
  readonly leader: NodeId | null;
  /** The leader's client address, for clients to go to it; null when none is known. */
  readonly leaderAddress: string | null;
  readonly clientAddress: string;
  readonly peerAddress: string;
  readonly commitIndex: number;
  readonly appliedIndex: number;
  readonly snapshotIndex: number;
  readonly members: readonly MemberStatus[];
}

export interface AddMemberRequest {
  readonly id: NodeId;
  readonly clientAddress: string;
  readonly peerAddress: string;
}

export interface ClusterService {
  clusterStatus(): ClusterStatus;
  /**
   * Adds a node: as a learner first, promoted to voter once it has caught up (bounded wait).
   * Resolves with the status after the promotion committed. Forwarded to the leader if needed.
   */
  addMember(request: AddMemberRequest): Promise<ClusterStatus>;
  /** Removes a member; removing the leader transfers leadership first. Forwarded if needed. */
  removeMember(id: NodeId): Promise<ClusterStatus>;
  /**
   * Test builds only (`--enable-fault-injection`): drop all peer traffic to and from these nodes
   * until called again with another list. Throws LOCKD_ERR_NOT_FOUND-like errors when disabled.
   */
  setPeerFaults(isolatedFrom: readonly NodeId[]): void;
}
