/**
 * Where the demo admin's credentials go (README, Quick start). With pretty
 * logs (a terminal, or LOG_FORMAT=pretty) the box is printed among them. With
 * JSON logs every standard-output line is JSON and credentials never enter the
 * log stream (a log shipper keeps it): the box goes to a file readable only by
 * this user in the data directory, next to the KV file, and a log line says
 * where. With no data directory (`:memory:`, KV Connect, Deno Deploy's KV) it
 * goes to standard error when that is a terminal; otherwise a log line says
 * how to get a token with the admin CLI, and `:memory:` (which no CLI can
 * reach) refuses to start.
 */
import type { Config } from "../config.ts";
import type { Logger } from "../core/log.ts";
import {
  adminCommand,
  credentialsBox,
  DEMO_EMAIL,
  denoTask,
  existingAdminNote,
  IN_MEMORY,
} from "./demo_notes.ts";
import type { ShownCredentials } from "./demo_notes.ts";
import type { StatusLine } from "./status_line.ts";

export const CREDENTIALS_FILE = "demo-admin-credentials.txt";

export type CredentialsPlace =
  | { kind: "screen" }
  | { kind: "file"; path: string }
  | { kind: "stderr" }
  | { kind: "cli" }
  | { kind: "refuse"; message: string; detail: string; fix: string };

/** The directory of a local KV file (with its trailing slash), else null. */
export function demoDataDir(kvPath: string | undefined): string | null {
  return kvPath && !kvPath.startsWith(":") && !/^https?:/.test(kvPath)
    ? kvPath.replace(/[^/]*$/, "") || "./"
    : null;
}

export function credentialsPlace(config: Config, stderrTerminal: boolean): CredentialsPlace {
  if (config.logFormat === "pretty") return { kind: "screen" };
  const dir = demoDataDir(config.kvPath);
  if (dir) return { kind: "file", path: `${dir}${CREDENTIALS_FILE}` };
  if (stderrTerminal) return { kind: "stderr" };
  if (config.kvPath?.startsWith(":")) {
    const detail = `demo mode on KV_PATH=${config.kvPath} with JSON logs has nowhere to show the ` +
      "demo admin's credentials: they are never logged, no CLI can reach an in-memory store, " +
      "and standard error is no terminal";
    const fix = "set KV_PATH to a file (they are written next to it), LOG_FORMAT=pretty (they " +
      "are printed), or run it with standard error on a terminal";
    return { kind: "refuse", message: `${detail}. S${fix.slice(1)}`, detail, fix };
  }
  return { kind: "cli" };
}

/**
 * The admin CLI on this server's store, as the person must type it, with the Deno that runs the
 * server (`denoTask`); null on `:memory:`.
 */
function cliOn(config: Config): string | null {
  return config.kvPath
    ? adminCommand(config.kvPath)
    : "KV_PATH=<this database's KV Connect URL> DENO_KV_ACCESS_TOKEN=<an access token> " +
      denoTask("admin");
}

/** The commands that give the demo admin new credentials, or (`:memory:`) why there are none. */
function renewal(cli: string | null, id: string): Record<string, string> {
  return cli
    ? {
      rotate_command: `${cli} rotate-token --id ${id}`,
      reset_2fa_command: `${cli} reset-2fa --id ${id}`,
    }
    : { note: IN_MEMORY };
}

export interface Telling {
  config: Config;
  log: Logger;
  screen: StatusLine;
  place: CredentialsPlace;
  /** standard error, for `stderr` */
  writeErr?: (text: string) => void;
}

/** The demo admin was just made: its credentials, shown once where `place` says. */
export async function tellCredentials(t: Telling, creds: ShownCredentials): Promise<void> {
  const { config, log, place } = t;
  const box = credentialsBox(creds, config.port, config.kvPath);
  const admin_id = creds.admin.id;
  if (place.kind === "screen") return t.screen.line(box);
  if (place.kind === "stderr") {
    (t.writeErr ?? ((s) => console.error(s)))(box);
    return log.info(
      "demo admin created; its credentials were shown on standard error, not logged",
      {
        admin_id,
      },
    );
  }
  if (place.kind === "file") {
    try {
      // a file left by an earlier store is replaced, never appended to or left readable
      await Deno.remove(place.path).catch(() => {});
      await Deno.writeTextFile(place.path, `${box}\n`, { createNew: true, mode: 0o600 });
      return log.info(
        "demo admin created; its token, TOTP secret and recovery codes are in a file only this " +
          "user can read: read it, then delete it",
        { admin_id, file: place.path },
      );
    } catch (error) {
      log.error("the demo admin's credentials file could not be written", {
        file: place.path,
        error,
      });
    }
  }
  const cli = cliOn(config);
  log.warn("demo admin created; its credentials are not logged: get new ones with the admin CLI", {
    admin_id,
    ...renewal(cli, admin_id),
  });
}

/** A restart on existing data: the note on the screen, or (JSON logs) one log line saying it. */
export function tellExisting(t: Telling, admins: { id: string; email: string }[]): void {
  const { config, log } = t;
  if (t.place.kind === "screen") {
    return t.screen.line(existingAdminNote(admins, config.port, config.kvPath));
  }
  const cli = cliOn(config);
  const demo = admins.find((a) => a.email === DEMO_EMAIL);
  if (!demo) {
    return log.info("this store's admins were made with the admin CLI, not by the demo", {
      admins: admins.length,
      ...(cli ? { list_command: `${cli} list` } : { note: IN_MEMORY }),
    });
  }
  log.info("the demo admin exists already; its token was shown at the first start", {
    admin_id: demo.id,
    ...renewal(cli, demo.id),
  });
}
