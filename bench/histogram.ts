/**
 * A latency histogram with logarithmic buckets: each bucket is 1% wider than the one below, so a
 * percentile read from it is within 1% of the exact one, and memory stays fixed however long a
 * run lasts (a sorted array of every sample would grow with the run).
 */

const latencyMsMin = 0.001;
const latencyMsMax = 600_000;
const bucketGrowth = 1.01;
const bucketCount = Math.ceil(Math.log(latencyMsMax / latencyMsMin) / Math.log(bucketGrowth)) + 1;

export class LatencyHistogram {
  private readonly counts = new Float64Array(bucketCount);
  private total = 0;
  private latencyMsLargest = 0;

  get count(): number {
    return this.total;
  }

  record(latencyMs: number): void {
    if (!(latencyMs >= 0)) throw new Error(`a latency must be a number >= 0, got ${latencyMs}`);
    const bucket = bucketOf(latencyMs);
    this.counts[bucket] = (this.counts[bucket] ?? 0) + 1;
    this.total += 1;
    if (latencyMs > this.latencyMsLargest) this.latencyMsLargest = latencyMs;
  }

  /**
   * The latency under which `fraction` of the samples fall: the upper edge of the bucket that
   * holds that rank, capped at the largest sample seen. 0 when nothing was recorded.
   */
  percentileMs(fraction: number): number {
    if (!(fraction >= 0 && fraction <= 1)) throw new Error(`fraction ${fraction} not in [0, 1]`);
    if (this.total === 0) return 0;
    const rank = Math.max(1, Math.ceil(this.total * fraction));
    let seen = 0;
    for (let bucket = 0; bucket < bucketCount; bucket++) {
      seen += this.counts[bucket] ?? 0;
      if (seen >= rank) return Math.min(upperEdgeMs(bucket), this.latencyMsLargest);
    }
    return this.latencyMsLargest;
  }
}

function bucketOf(latencyMs: number): number {
  if (latencyMs <= latencyMsMin) return 0;
  const bucket = Math.ceil(Math.log(latencyMs / latencyMsMin) / Math.log(bucketGrowth));
  return Math.min(bucketCount - 1, bucket);
}

function upperEdgeMs(bucket: number): number {
  return latencyMsMin * bucketGrowth ** bucket;
}
