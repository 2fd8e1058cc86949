// The checkpoint of a `send` run: the connector's snapshot, how many input lines were handed to
// it, and how many bytes of outcomes were written — taken in one synchronous turn, so the three
// agree. Written atomically (a temporary file, then rename), every few seconds, on SIGINT and
// SIGTERM, and before every Marketo call (holding it as in flight): so a resumed run
// never sends an event's call a second time, except one in flight at the kill (idempotent calls
// are then sent again; a trigger, merge or createDuplicate that was in flight ends `uncertain`).
//
// On resume the outcomes file is cut back to the recorded length: outcomes written after the
// checkpoint belong to events the snapshot still holds, and the restored connector reports
// them again. So each event's outcome appears once, even after `kill -9`.
import { closeSync, fsyncSync, openSync, readFileSync, renameSync, writeSync } from "node:fs";
import { UsageError } from "./config.mjs";

const VERSION = 1;

/** @returns {{snapshot: string, line: number, outcomeBytes: number, action: string,
 *   input?: {name: string, head: string}} | undefined} */
export function readCheckpoint(path) {
  let text;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    if (e.code === "ENOENT") return undefined;
    throw new UsageError(`--checkpoint ${path}: cannot read it (${e.code ?? e.message})`);
  }
  let cp;
  try {
    cp = JSON.parse(text);
  } catch (e) {
    throw new UsageError(`--checkpoint ${path}: not a checkpoint (${e.message})`);
  }
  if (cp?.version !== VERSION || typeof cp.snapshot !== "string" || !Number.isInteger(cp.line)) {
    throw new UsageError(`--checkpoint ${path}: not a checkpoint of this tool (version ${VERSION})`);
  }
  return cp;
}

export function writeCheckpoint(path, { snapshot, line, outcomeBytes, action, input }) {
  const tmp = `${path}.tmp-${process.pid}`;
  const fd = openSync(tmp, "w");
  try {
    writeSync(fd, JSON.stringify({ version: VERSION, action, input, line, outcomeBytes, snapshot }));
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
}
