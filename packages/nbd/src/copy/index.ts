export type { CopyTarget } from './target.js';
