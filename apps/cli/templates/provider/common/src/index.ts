export { plugin } from './plugin.js';
export { supports } from './supports.js';
