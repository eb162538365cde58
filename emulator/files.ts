import { type Ctx, nowSec, type Route } from "./context.ts";
import { invalidRequest } from "./errors.ts";
import { optString, reqString } from "./form.ts";
import { newId } from "./ids.ts";
import { equalsParam, getOr404, listObjects, put, type StripeObject } from "./store.ts";

const MB = 1024 * 1024;
// Stripe takes dispute evidence as PDF, JPEG or PNG of at most 5 MB each.
const LIMITS: Record<string, { types: string[]; maxBytes: number }> = {
  dispute_evidence: { types: ["pdf", "jpg", "png"], maxBytes: 5 * MB },
  identity_document: { types: ["pdf", "jpg", "png"], maxBytes: 10 * MB },
  additional_verification: { types: ["pdf", "jpg", "png"], maxBytes: 10 * MB },
  business_icon: { types: ["jpg", "png", "gif"], maxBytes: 512 * 1024 },
  business_logo: { types: ["jpg", "png", "gif"], maxBytes: 512 * 1024 },
  customer_signature: { types: ["jpg", "png"], maxBytes: 4 * MB },
};

/** The type Stripe reports (`pdf`, `jpg`, `png` …), from the content rather than the name. */
function sniff(bytes: Uint8Array): string | null {
  const starts = (...sig: number[]) => sig.every((b, i) => bytes[i] === b);
  if (starts(0x25, 0x50, 0x44, 0x46)) return "pdf";
  if (starts(0x89, 0x50, 0x4e, 0x47)) return "png";
  if (starts(0xff, 0xd8, 0xff)) return "jpg";
  if (starts(0x47, 0x49, 0x46, 0x38)) return "gif";
  return null;
}

function createFile(ctx: Ctx): StripeObject {
  const purpose = reqString(ctx.params, "purpose");
  const limits = LIMITS[purpose];
  if (!limits) {
    throw invalidRequest(
      `Invalid purpose: ${purpose}. The emulator accepts ${Object.keys(LIMITS).join(", ")}.`,
      { param: "purpose" },
    );
  }
  const upload = ctx.uploads.get("file");
  if (!upload) {
    throw invalidRequest("Missing required param: file.", {
      code: "parameter_missing",
      param: "file",
    });
  }
  const type = sniff(upload.bytes);
  if (!type || !limits.types.includes(type)) {
    throw invalidRequest(
      `Files with purpose '${purpose}' must be one of: ${limits.types.join(", ")}.`,
      { code: "file_type_not_supported", param: "file" },
    );
  }
  if (upload.bytes.length > limits.maxBytes) {
    throw invalidRequest(
      `The file is ${upload.bytes.length} bytes; files with purpose '${purpose}' can be at ` +
        `most ${limits.maxBytes} bytes.`,
      { code: "file_too_large", param: "file" },
    );
  }
  const id = newId("file");
  const file: StripeObject = {
    id,
    object: "file",
    created: nowSec(ctx),
    expires_at: null,
    filename: upload.name || null,
    links: { object: "list", data: [], has_more: false, url: `/v1/file_links?file=${id}` },
    purpose,
    size: upload.bytes.length,
    title: optString(ctx.params, "title") ?? null,
    type,
    url: `https://files.stripe.com/v1/files/${id}/contents`,
  };
  put(ctx.store, "files", file);
  ctx.store.fileBodies.set(id, upload.bytes);
  ctx.bus.emit("file.created", file, ctx.request);
  return file;
}

export const fileRoutes: Route[] = [
  { method: "POST", pattern: /^\/v1\/files$/, handler: createFile },
  {
    method: "GET",
    pattern: /^\/v1\/files$/,
    handler: (ctx) =>
      listObjects(
        ctx.store.objects.files.values(),
        ctx.params,
        "/v1/files",
        equalsParam(ctx.params, "purpose"),
      ),
  },
  {
    method: "GET",
    pattern: /^\/v1\/files\/([^/]+)$/,
    handler: (ctx, [id]) => getOr404(ctx.store, "files", id),
  },
];
