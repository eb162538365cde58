/**
 * A KV Connect server for tests, in the role of a self-hosted `denokv`: the
 * metadata exchange at its base URL (the access token as a bearer; a wrong one
 * is answered 401), then the protobuf data path (`snapshot_read`,
 * `atomic_write`) under `/data/`, authorised by the short-lived token the
 * exchange handed out. State lives in memory (store.ts). `watch` is answered
 * 501: the service never watches keys.
 */
import {
  decodeAtomicWrite,
  decodeSnapshotRead,
  encodeAtomicWriteOutput,
  encodeSnapshotReadOutput,
} from "./datapath.ts";
import { ProtobufError } from "./protobuf.ts";
import { OrderedStore, WriteRefused } from "./store.ts";

export interface KvConnectOptions {
  accessToken: string;
  /** how long a data path token lasts (default an hour) */
  tokenTtlMs?: number;
  /** protocol versions this server speaks (default 1–3) */
  versions?: number[];
  now?: () => number;
}

export interface KvConnectServer {
  url: string;
  store: OrderedStore;
  /** requests served, by kind: "metadata", "snapshot_read", "atomic_write", "refused" */
  counts: Record<string, number>;
  close(): Promise<void>;
}

const text = (status: number, body: string) =>
  new Response(body, { status, headers: { "content-type": "text/plain" } });
const proto = (body: Uint8Array) =>
  new Response(body as Uint8Array<ArrayBuffer>, {
    headers: { "content-type": "application/x-protobuf" },
  });

export function startKvConnect(options: KvConnectOptions): KvConnectServer {
  const now = options.now ?? Date.now;
  const versions = options.versions ?? [1, 2, 3];
  const databaseId = crypto.randomUUID();
  const store = new OrderedStore(now);
  const tokens = new Map<string, number>(); // data path token -> expires at (ms)
  const counts: Record<string, number> = {};
  const count = (kind: string) => counts[kind] = (counts[kind] ?? 0) + 1;
  let origin = "";

  const bearer = (req: Request) =>
    /^Bearer (.+)$/.exec(req.headers.get("authorization") ?? "")?.[1];

  async function metadata(req: Request): Promise<Response> {
    if (bearer(req) !== options.accessToken) {
      count("refused");
      return text(401, "Invalid access token.");
    }
    let offered = [1];
    const body = await req.text();
    if (body.trim()) {
      try {
        const parsed = JSON.parse(body);
        if (!Array.isArray(parsed.supportedVersions)) throw new Error();
        offered = parsed.supportedVersions;
      } catch {
        return text(400, "the body must be JSON with supportedVersions: number[]");
      }
    }
    const version = Math.max(...offered.filter((v) => versions.includes(v)));
    if (!Number.isFinite(version)) {
      return text(400, `no common protocol version (server speaks ${versions.join(", ")})`);
    }
    count("metadata");
    const token = crypto.randomUUID().replaceAll("-", "");
    const expiresAt = now() + (options.tokenTtlMs ?? 3_600_000);
    tokens.set(token, expiresAt);
    return Response.json({
      version,
      [version === 1 ? "uuid" : "databaseId"]: databaseId,
      endpoints: [{ url: `${origin}/data`, consistency: "strong" }],
      token,
      expiresAt: new Date(expiresAt).toISOString(),
    });
  }

  async function dataPath(req: Request, method: string): Promise<Response> {
    const token = bearer(req);
    const expires = token ? tokens.get(token) : undefined;
    if (expires === undefined || expires <= now()) {
      count("refused");
      return text(401, "invalid or expired data path token");
    }
    const id = req.headers.get("x-denokv-database-id") ??
      req.headers.get("x-transaction-domain-id");
    if (id !== databaseId) return text(400, "x-denokv-database-id names another database");
    const body = new Uint8Array(await req.arrayBuffer());
    try {
      if (method === "snapshot_read") {
        count(method);
        return proto(encodeSnapshotReadOutput(decodeSnapshotRead(body).map((r) => store.read(r))));
      }
      if (method === "atomic_write") {
        count(method);
        return proto(encodeAtomicWriteOutput(store.commit(decodeAtomicWrite(body))));
      }
      if (method === "watch") return text(501, "watch is not implemented by this test server");
      return text(404, `no data path method ${method}`);
    } catch (e) {
      if (e instanceof ProtobufError || e instanceof WriteRefused) return text(400, e.message);
      throw e;
    }
  }

  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (req) => {
    if (req.method !== "POST") return text(405, "KV Connect speaks POST");
    const path = new URL(req.url).pathname;
    const m = /^\/data\/([a-z_]+)$/.exec(path);
    if (m) return dataPath(req, m[1]);
    if (path === "/") return metadata(req);
    return text(404, "not a KV Connect path");
  });
  origin = `http://127.0.0.1:${server.addr.port}`;
  return { url: origin, store, counts, close: () => server.shutdown() };
}
