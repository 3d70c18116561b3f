/** A DevTools-protocol timeout far below any page run of the Chromium tests: a CDP call held open for a whole run
 * (issue 15) fails under it, while the runners' short calls do not. */
export const TINY_PROTOCOL_TIMEOUT_MS = 2_000;
