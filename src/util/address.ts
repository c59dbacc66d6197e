/** `host:port` addresses, as flags, cluster files and the cluster API write them. */

/** The longest `host:port` accepted (a DNS name is at most 253 bytes). */
export const addressLengthMax = 300;

export interface Address {
  readonly host: string;
  readonly port: number;
}

/**
 * Parses `host:port` (IPv6 in brackets: `[::1]:2081`); port 0 asks the system for a free port.
 * Returns the address, or the reason it is not one (for the caller's own error).
 */
export function parseHostPort(text: string): Address | string {
  if (text.length > addressLengthMax)
    return `must be host:port of at most ${addressLengthMax} characters`;
  const match = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]\s/]+)):(\d{1,5})$/.exec(text);
  if (match === null) return `must be host:port, not '${text}'`;
  const port = Number(match[3]);
  if (port > 65_535) return `has port ${port}, above 65535`;
  return { host: match[1] ?? match[2] ?? '', port };
}

export function formatAddress(address: Address): string {
  return address.host.includes(':')
    ? `[${address.host}]:${address.port}`
    : `${address.host}:${address.port}`;
}
