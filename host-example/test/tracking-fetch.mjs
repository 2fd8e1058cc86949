// A host `fetch` for tests on virtual time: WHATWG fetch that counts the requests still open,
// and `idle()`, which resolves once none is open and the connector has handled every answer.
//
// Why: `wake()` resolves at once with what has finished (SPEC §7); it does not wait for calls
// in flight. A test that moves its virtual clock to the next `setTimer` time must first let the
// calls in flight come back, or it would jump past their call timeout.

/** @returns {{fetch: typeof fetch, idle: () => Promise<void>, open: () => number}} */
export function trackingFetch(inner = globalThis.fetch.bind(globalThis)) {
  let open = 0;
  const fetch = async (url, init) => {
    open++;
    try {
      const response = await inner(url, init);
      const text = await response.text();
      return { status: response.status, text: async () => text };
    } finally {
      open--;
    }
  };
  const turn = () => new Promise((resolve) => setImmediate(resolve));
  const idle = async () => {
    // The connector reads an answer a few microtasks after its fetch resolves: a macrotask
    // turn after the last one closed lets it do so (and send whatever follows).
    for (let quiet = 0; quiet < 2;) {
      await turn();
      quiet = open === 0 ? quiet + 1 : 0;
    }
  };
  return { fetch, idle, open: () => open };
}
