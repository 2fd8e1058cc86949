// The settings file (SPEC §2–3: the four settings, `limits`, `actions`) and the environment
// variables that may hold the credentials instead, so no secret need sit in a file.
import { readFileSync } from "node:fs";

/** A usage or configuration error: exit status 2, with a message naming the option or setting. */
export class UsageError extends Error {}

const FROM_ENV = {
  clientId: "MARKETO_CLIENT_ID",
  clientSecret: "MARKETO_CLIENT_SECRET",
  endpointUrl: "MARKETO_ENDPOINT_URL",
  identityUrl: "MARKETO_IDENTITY_URL",
};

/**
 * Reads `--config FILE`. A setting missing from the file is taken from its environment variable;
 * the file wins where both have it.
 * @returns {object} settings for `new Connector(settings, host)`
 */
export function loadSettings(path, env = process.env, { dryRun = false } = {}) {
  if (!path) throw new UsageError("--config FILE is required (a JSON file with the settings and actions)");
  let text;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    throw new UsageError(`--config ${path}: cannot read it (${e.code ?? e.message})`);
  }
  let settings;
  try {
    settings = JSON.parse(text);
  } catch (e) {
    throw new UsageError(`--config ${path}: not JSON (${e.message})`);
  }
  if (settings === null || typeof settings !== "object" || Array.isArray(settings)) {
    throw new UsageError(`--config ${path}: must hold a JSON object {clientId, clientSecret, endpointUrl, identityUrl, limits?, actions}`);
  }
  for (const [key, name] of Object.entries(FROM_ENV)) {
    if (settings[key] === undefined && env[name] !== undefined) settings[key] = env[name];
  }
  if (dryRun) {
    // A dry run sends nothing and asks for no token: placeholders stand in for what is missing.
    settings.clientId ??= "dry-run";
    settings.clientSecret ??= "dry-run";
    settings.endpointUrl ??= "https://dry-run.invalid/rest";
    settings.identityUrl ??= "https://dry-run.invalid/identity";
  }
  for (const [key, name] of Object.entries(FROM_ENV)) {
    if (settings[key] === undefined) throw new UsageError(`setting ${key} is missing: put it in ${path} or set ${name}`);
  }
  return settings;
}

/** Reads a dot path (`data.udo.id`) out of an event; `undefined` when absent. */
export function readPath(event, path) {
  let v = event;
  for (const key of path.split(".")) {
    if (v === null || typeof v !== "object") return undefined;
    v = v[key];
  }
  return v;
}
