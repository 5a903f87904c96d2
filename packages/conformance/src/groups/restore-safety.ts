import type { Scenario } from '../kit/scenario.js';

/** Hostile restore inputs and source faults (filled in below). */
export const restoreSafetyScenarios: readonly Scenario[] = [];
