/**
 * The simulated network between nodes: each message gets its own seeded delay, so messages
 * overtake one another; it may be lost or duplicated; directed links may be cut (a symmetric
 * partition cuts both directions, a one-way partition only one) and healed. A message is lost if its
 * link is cut when it is sent or when it would arrive, as with a connection that breaks.
 */
import type { Message, NodeId } from '../../src/raft/types.js';
import { assert } from '../../src/util/assert.js';
import type { VirtualClock } from './clock.js';
import type { SimRandom } from './random.js';

/** How the network treats each message: the "weather", which faults may change for a while. */
export interface LinkConditions {
  readonly lossProbability: number;
  readonly duplicateProbability: number;
  readonly delayMinUs: number;
  readonly delayMaxUs: number;
  /** The probability that a message is held back by an extra delay, so that later ones overtake it. */
  readonly reorderProbability: number;
  readonly reorderDelayMaxUs: number;
}

export const calmConditions: LinkConditions = {
  lossProbability: 0,
  duplicateProbability: 0,
  delayMinUs: 200,
  delayMaxUs: 2_000,
  reorderProbability: 0,
  reorderDelayMaxUs: 0,
};

export interface NetworkStats {
  sent: number;
  delivered: number;
  lost: number;
  duplicated: number;
}

export type Deliver = (message: Message) => void;

export class SimNetwork {
  readonly stats: NetworkStats = { sent: 0, delivered: 0, lost: 0, duplicated: 0 };
  readonly #clock: VirtualClock;
  readonly #random: SimRandom;
  readonly #deliver: Deliver;
  #base: LinkConditions;
  #weather: { readonly conditions: LinkConditions; readonly token: number } | undefined;
  #nextToken = 1;
  /** Cut directed links and how many active partitions cut each (they may overlap). */
  readonly #cuts = new Map<number, number>();

  constructor(clock: VirtualClock, random: SimRandom, base: LinkConditions, deliver: Deliver) {
    this.#clock = clock;
    this.#random = random;
    this.#base = base;
    this.#deliver = deliver;
  }

  get conditions(): LinkConditions {
    return this.#weather?.conditions ?? this.#base;
  }

  /** Replaces the conditions until clearWeather(token); a later call overrides an earlier one. */
  setWeather(conditions: LinkConditions): number {
    const token = this.#nextToken++;
    this.#weather = { conditions, token };
    return token;
  }

  clearWeather(token: number): void {
    if (this.#weather?.token === token) this.#weather = undefined;
  }

  /** Back to `base` for good, with every partition healed: the quiet phase. */
  calm(base: LinkConditions): void {
    this.#base = base;
    this.#weather = undefined;
    this.#cuts.clear();
  }

  send(message: Message): void {
    this.stats.sent++;
    const conditions = this.conditions;
    if (this.isCut(message.from, message.to) || this.#random.chance(conditions.lossProbability)) {
      this.stats.lost++;
      return;
    }
    this.#schedule(message, conditions);
    if (this.#random.chance(conditions.duplicateProbability)) {
      this.stats.duplicated++;
      this.#schedule(message, conditions);
    }
  }

  isCut(from: NodeId, to: NodeId): boolean {
    return this.#cuts.has(linkKey(from, to));
  }

  /** Cuts each directed link [from, to]; returns them for heal(). Overlapping cuts are counted. */
  cut(links: readonly (readonly [NodeId, NodeId])[]): readonly (readonly [NodeId, NodeId])[] {
    for (const [from, to] of links) {
      const key = linkKey(from, to);
      this.#cuts.set(key, (this.#cuts.get(key) ?? 0) + 1);
    }
    return links;
  }

  heal(links: readonly (readonly [NodeId, NodeId])[]): void {
    for (const [from, to] of links) {
      const key = linkKey(from, to);
      const count = this.#cuts.get(key);
      if (count === undefined) continue; // calm() healed everything already.
      if (count <= 1) this.#cuts.delete(key);
      else this.#cuts.set(key, count - 1);
    }
  }

  /** How many directed links are cut now. */
  get cutLinks(): number {
    return this.#cuts.size;
  }

  #schedule(message: Message, conditions: LinkConditions): void {
    let delayUs = this.#random.between(conditions.delayMinUs, conditions.delayMaxUs);
    if (this.#random.chance(conditions.reorderProbability)) {
      delayUs += this.#random.between(0, conditions.reorderDelayMaxUs);
    }
    this.#clock.schedule(delayUs, () => {
      if (this.isCut(message.from, message.to)) {
        this.stats.lost++;
        return;
      }
      this.stats.delivered++;
      this.#deliver(message);
    });
  }
}

/** Every directed link between different groups; nodes in no group are cut off from all. */
export function partitionLinks(
  ids: readonly NodeId[],
  groups: readonly (readonly NodeId[])[],
): [NodeId, NodeId][] {
  const groupOf = new Map<NodeId, number>();
  groups.forEach((group, position) => {
    for (const id of group) groupOf.set(id, position);
  });
  const links: [NodeId, NodeId][] = [];
  for (const from of ids) {
    for (const to of ids) {
      const group = groupOf.get(from);
      if (from !== to && (group === undefined || group !== groupOf.get(to))) links.push([from, to]);
    }
  }
  return links;
}

function linkKey(from: NodeId, to: NodeId): number {
  assert(from < 65_536 && to < 65_536, 'node ids of the simulator fit in 16 bits');
  return from * 65_536 + to;
}
