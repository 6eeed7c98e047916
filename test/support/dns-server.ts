/**
 * A tiny authoritative DNS server for tests: UDP on 127.0.0.1 (an ephemeral port), answering
 * A, AAAA, MX, TXT and PTR from a zone object (PTR under its in-addr.arpa / ip6.arpa name); a name not in the zone gets NXDOMAIN, a name without records
 * of the asked type gets NOERROR with no answer (NODATA). Wire format by `dns-packet`.
 * `silent: true` makes it receive and never answer (to test timeouts).
 */
import { createSocket, type Socket } from "node:dgram";
import dnsPacket from "dns-packet";

export interface ZoneRecords {
  A?: string[];
  AAAA?: string[];
  /** Names a reverse name points to (the zone key is e.g. "25.113.0.203.in-addr.arpa"). */
  PTR?: string[];
  MX?: { exchange: string; preference: number }[];
  /** Each record is one string or its character-strings (chunks). */
  TXT?: (string | string[])[];
}

export type Zone = Record<string, ZoneRecords>;

export interface DnsServer {
  /** "127.0.0.1:PORT", as verifyDns's `resolver` takes it. */
  address: string;
  port: number;
  /** Questions received, as "TYPE name". */
  queries: string[];
  /** Replace (or add) a name's records, as a user publishing a record at the registrar would. */
  set(name: string, value: ZoneRecords): void;
  close(): Promise<void>;
}

const NXDOMAIN = 3;

export async function startDnsServer(zone: Zone, options: { silent?: boolean } = {}): Promise<DnsServer> {
  const records = new Map(Object.entries(zone).map(([name, value]) => [normalize(name), value]));
  const queries: string[] = [];
  const socket: Socket = createSocket("udp4");
  socket.on("message", (message, remote) => {
    let query: dnsPacket.DecodedPacket;
    try {
      query = dnsPacket.decode(message);
    } catch {
      return;
    }
    const question = query.questions?.[0];
    if (!question) return;
    queries.push(`${question.type} ${question.name}`);
    if (options.silent) return;
    const entry = records.get(normalize(question.name));
    const answers = entry ? answersFor(question.name, question.type, entry) : [];
    const response = dnsPacket.encode({
      type: "response",
      id: query.id,
      flags: dnsPacket.AUTHORITATIVE_ANSWER | ((query.flags ?? 0) & dnsPacket.RECURSION_DESIRED) | (entry ? 0 : NXDOMAIN),
      questions: [question],
      answers,
    });
    socket.send(response, remote.port, remote.address);
  });
  await new Promise<void>((resolve, reject) => {
    socket.once("error", reject);
    socket.bind(0, "127.0.0.1", () => resolve());
  });
  const port = socket.address().port;
  return {
    address: `127.0.0.1:${port}`,
    port,
    queries,
    set: (name, value) => void records.set(normalize(name), value),
    close: () => new Promise<void>((resolve) => socket.close(() => resolve())),
  };
}

function answersFor(name: string, type: string, entry: ZoneRecords): dnsPacket.Answer[] {
  const ttl = 300;
  switch (type) {
    case "A":
      return (entry.A ?? []).map((data) => ({ type: "A", name, ttl, data }));
    case "AAAA":
      return (entry.AAAA ?? []).map((data) => ({ type: "AAAA", name, ttl, data }));
    case "PTR":
      return (entry.PTR ?? []).map((data) => ({ type: "PTR", name, ttl, data }));
    case "MX":
      return (entry.MX ?? []).map((data) => ({ type: "MX", name, ttl, data }));
    case "TXT":
      return (entry.TXT ?? []).map((data) => ({ type: "TXT", name, ttl, data: Array.isArray(data) ? data : [data] }));
    default:
      return [];
  }
}

function normalize(name: string): string {
  return name.replace(/\.$/, "").toLowerCase();
}
