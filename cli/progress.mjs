// Progress on stderr: a live bar when stderr is a terminal (cli-progress), a plain line every
// few seconds otherwise (logs, CI). Never on stdout, which carries only outcomes.
import cliProgress from "cli-progress";

export function progressReporter({ total, stream = process.stderr, intervalMs = 5000 }) {
  const started = Date.now();
  const line = (s) => {
    const secs = (Date.now() - started) / 1000;
    const rate = s.final / Math.max(secs, 0.001);
    const left = total !== undefined && rate > 0 ? Math.max(0, (total - s.final) / rate) : undefined;
    return { rate, left };
  };
  if (stream.isTTY) {
    const bar = new cliProgress.SingleBar({
      stream,
      format: "{bar} {value}/{total} final | read {read} | {statuses} | calls {calls} | {rate}/s | ETA {eta_formatted}",
      hideCursor: true,
      clearOnComplete: false,
    }, cliProgress.Presets.shades_classic);
    bar.start(total ?? 0, 0, { read: 0, statuses: "", calls: 0, rate: "0" });
    return {
      update(s) {
        const { rate } = line(s);
        if (total === undefined) bar.setTotal(s.read);
        bar.update(s.final, { read: s.read, statuses: fmt(s.statuses), calls: s.calls, rate: rate.toFixed(0) });
      },
      stop: () => bar.stop(),
    };
  }
  let last = 0;
  return {
    update(s) {
      if (Date.now() - last < intervalMs) return;
      last = Date.now();
      const { rate, left } = line(s);
      stream.write(`progress: read ${s.read}, final ${s.final} (${fmt(s.statuses) || "none yet"}), calls ${s.calls}, ${rate.toFixed(0)} events/s${left === undefined ? "" : `, ~${Math.ceil(left)} s left`}\n`);
    },
    stop() {},
  };
}

export const fmt = (statuses) => Object.entries(statuses).map(([k, v]) => `${k} ${v}`).join(", ");
