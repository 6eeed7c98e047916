/**
 * The login right behind the request for it. After the key exchange a client asks for the
 * `ssh-userauth` service and, in ssh2 as in OpenSSH, waits for the host's SERVICE_ACCEPT before
 * its first USERAUTH_REQUEST: a round trip (~100 ms at 100 ms) for an answer that is never no.
 * The host handles messages in order (sshd sets up its userauth handler while it handles the
 * service request, before it reads the next message), so the login may follow the service request
 * at once; this does that: one round trip less per connection.
 *
 * ssh2 has no option for it, so this wraps, on one connection, two of its internals (ssh2 1.x):
 * `_protocol.service()`, after which ssh2's own SERVICE_ACCEPT handler is called at once (on the
 * next turn of the event loop, so that the host's EXT_INFO, sent right behind its NEWKEYS and
 * read with it, is parsed first: it says which signature algorithms an RSA key may use), and that
 * handler, so the host's real SERVICE_ACCEPT, when it comes, is not acted on twice. Where the
 * internals are not as expected (another ssh2 version), nothing changes.
 */
import type { Client } from "ssh2";

type AcceptHandler = (protocol: unknown, name: string) => unknown;

interface ProtocolLike {
  service?: (name: string) => unknown;
  _handlers?: { SERVICE_ACCEPT?: AcceptHandler };
}

/** After `client.connect()` (which creates the protocol object): log in without waiting for SERVICE_ACCEPT. */
export function authBehindServiceRequest(client: Client): boolean {
  const protocol = (client as unknown as { _protocol?: ProtocolLike })._protocol;
  const handlers = protocol?._handlers;
  const service = protocol?.service;
  const accept = handlers?.SERVICE_ACCEPT;
  if (!protocol || !handlers || typeof service !== "function" || typeof accept !== "function") return false;
  let actedOn = false;
  const acceptOnce = (name: string) => {
    if (actedOn) return;
    actedOn = true;
    accept.call(handlers, protocol, name);
  };
  protocol.service = function (this: ProtocolLike, name) {
    const sent = service.call(this, name);
    if (name === "ssh-userauth") setImmediate(() => acceptOnce(name));
    return sent;
  };
  handlers.SERVICE_ACCEPT = (self, name) => (name === "ssh-userauth" ? acceptOnce(name) : accept.call(handlers, self, name));
  return true;
}
