export { BandwidthLimiter, type BandwidthLimiterOptions, type LimiterClock } from './bandwidth-limiter.js';
export { createRateLimitStream, type RateLimitStreamOptions } from './rate-limit-stream.js';
