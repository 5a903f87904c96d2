/**
 * A sorted set of disjoint `[start, end)` ranges that merges touching neighbours. Adding is a
 * binary search plus at most one splice, so floods of small ranges stay cheap.
 */
export class RangeSet {
  private readonly ranges: Array<[number, number]> = [];

  /** The merged ranges, ascending. */
  get list(): ReadonlyArray<readonly [number, number]> {
    return this.ranges;
  }

  /** Adds `[start, end)`; returns false (and changes nothing) when it overlaps a stored range. */
  add(start: number, end: number): boolean {
    const ranges = this.ranges;
    let low = 0;
    let high = ranges.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if (ranges[middle]![0] < start) low = middle + 1;
      else high = middle;
    }
    const before = ranges[low - 1];
    const after = ranges[low];
    if ((before && before[1] > start) || (after && after[0] < end)) return false;
    if (before && before[1] === start) {
      before[1] = end;
      if (after && after[0] === end) {
        before[1] = after[1];
        ranges.splice(low, 1);
      }
    } else if (after && after[0] === end) {
      after[0] = start;
    } else {
      ranges.splice(low, 0, [start, end]);
    }
    return true;
  }

  /** Removes and returns the ranges at least `minimum` long (all of them with 0). */
  take(minimum = 0): Array<[number, number]> {
    const taken: Array<[number, number]> = [];
    for (let index = 0; index < this.ranges.length; ) {
      const range = this.ranges[index]!;
      if (range[1] - range[0] >= minimum) {
        taken.push(range);
        this.ranges.splice(index, 1);
      } else {
        index++;
      }
    }
    return taken;
  }
}
