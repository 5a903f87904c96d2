/** A byte range of a disk. `zero` marks a range known to read as zeroes (no data to copy). */
export interface Region {
  offset: number;
  length: number;
  zero?: boolean;
}
