// A Node host for the connector: global fetch, the system clock, and setTimeout as the timer
// that calls connector.wake(). Outcomes that finish on a timer are handed to `onOutcomes`.
import { Connector } from "../pkg/nodejs/marketo_connector.js";

/**
 * Builds a connector bound to Node's fetch and timers.
 * @param {object} settings  SPEC §2 settings with `actions`.
 * @param {object} [options]
 * @param {(outcomes: object[]) => void} [options.onOutcomes]  outcomes finished by timer-driven wake() calls
 * @param {(entry: object) => void} [options.log]             structured log (never contains secrets)
 * @param {typeof fetch} [options.fetch]                      defaults to globalThis.fetch
 * @param {() => number} [options.now]                        defaults to Date.now
 * @param {number} [options.seed]                             jitter seed
 */
export function createConnector(settings, options = {}) {
  let timer;
  let connector;
  const host = {
    fetch: options.fetch ?? globalThis.fetch.bind(globalThis),
    now: options.now ?? Date.now,
    seed: options.seed,
    log: options.log,
    setTimer(atMs) {
      // The latest call wins: one timer at a time.
      clearTimeout(timer);
      timer = setTimeout(async () => {
        const outcomes = await connector.wake();
        if (outcomes.length) options.onOutcomes?.(outcomes);
      }, Math.max(0, atMs - host.now()));
      // A pending wake-up must not keep a finished process alive.
      timer.unref?.();
    },
  };
  connector = new Connector(settings, host);
  return connector;
}

export { Connector };
