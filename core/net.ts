/**
 * IP addresses and CIDRs, IPv4 and IPv6: what TRUSTED_PROXIES holds and how a
 * peer's address is matched against it (README, "Inputs and headers").
 */

export interface ParsedAddress {
  family: 4 | 6;
  /** the address as one number (32 or 128 bits) */
  value: bigint;
}

function ipv4(a: string): bigint | null {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(a);
  if (!m) return null;
  const parts = m.slice(1).map(Number);
  if (parts.some((p) => p > 255)) return null;
  return parts.reduce((n, p) => (n << 8n) + BigInt(p), 0n);
}

/** The eight 16-bit groups of an IPv6 address (`::` and a trailing IPv4 part allowed). */
function ipv6(a: string): bigint | null {
  let text = a;
  let tail: bigint | null = null;
  const lastColon = text.lastIndexOf(":");
  if (text.includes(".", lastColon)) {
    tail = ipv4(text.slice(lastColon + 1));
    if (tail === null) return null;
    text = `${text.slice(0, lastColon + 1)}0:0`;
  }
  const halves = text.split("::");
  if (halves.length > 2) return null;
  const groups = (s: string) => s === "" ? [] : s.split(":");
  const head = groups(halves[0]);
  const rest = halves.length === 2 ? groups(halves[1]) : [];
  const missing = 8 - head.length - rest.length;
  if (halves.length === 2 ? missing < 1 : missing !== 0) return null;
  const all = [...head, ...Array(halves.length === 2 ? missing : 0).fill("0"), ...rest];
  let value = 0n;
  for (const g of all) {
    if (!/^[0-9a-f]{1,4}$/i.test(g)) return null;
    value = (value << 16n) + BigInt(parseInt(g, 16));
  }
  if (tail !== null) value = (value & ~0xffffffffn) | tail;
  return value;
}

/** `::ffff:0:0/96`: an IPv4 address carried in IPv6 */
const MAPPED_V4 = 0xffffn << 32n;

/**
 * An IPv4 or IPv6 address (an IPv6 zone such as `%eth0` dropped), or null.
 * An IPv4-mapped IPv6 address (`::ffff:10.0.0.1`, as a dual-stack socket
 * reports an IPv4 peer) is that IPv4 address.
 */
export function parseAddress(text: string): ParsedAddress | null {
  const a = text.trim();
  const v4 = ipv4(a);
  if (v4 !== null) return { family: 4, value: v4 };
  if (!a.includes(":")) return null;
  const v6 = ipv6(a.replace(/%[^%]*$/, ""));
  if (v6 === null) return null;
  if ((v6 & ~0xffffffffn) === MAPPED_V4) return { family: 4, value: v6 & 0xffffffffn };
  return { family: 6, value: v6 };
}

export interface AddressRule {
  family: 4 | 6;
  network: bigint;
  /** prefix length */
  bits: number;
}

/** An address (all bits) or a CIDR such as `10.0.0.0/8` or `2001:db8::/32`; null if neither. */
export function parseAddressRule(rule: string): AddressRule | null {
  const parts = rule.trim().split("/");
  if (parts.length > 2) return null;
  const [net, bitsText] = parts;
  // a mapped IPv4 network is written in IPv6 terms: its prefix counts 128 bits
  const mapped = bitsText !== undefined && /^::ffff:\d/i.test(net);
  const addr = parseAddress(net);
  if (!addr) return null;
  const width = addr.family === 4 ? 32 : 128;
  let bits = width;
  if (bitsText !== undefined) {
    if (!/^\d{1,3}$/.test(bitsText)) return null;
    bits = Number(bitsText) - (mapped ? 96 : 0);
    if (mapped && Number(bitsText) < 96) return null;
    if (bits < 0 || bits > width) return null;
  }
  return { family: addr.family, network: addr.value, bits };
}

function masked(value: bigint, bits: number, width: number): bigint {
  return bits === 0 ? 0n : value >> BigInt(width - bits);
}

/** `addr` equals `rule`, or lies in the CIDR `rule`; false when either does not parse. */
export function addressMatches(addr: string, rule: string): boolean {
  const a = parseAddress(addr);
  const r = parseAddressRule(rule);
  if (!a || !r || a.family !== r.family) return false;
  const width = a.family === 4 ? 32 : 128;
  return masked(a.value, r.bits, width) === masked(r.network, r.bits, width);
}
