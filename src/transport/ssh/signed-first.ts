/**
 * Public key login in one round trip instead of two. ssh2, like OpenSSH, first asks whether the
 * host would accept a key (a request without signature, answered PK_OK) and only then sends the
 * signed request. RFC 4252 §7 lets a client send the signed request at once; the host answers it
 * with success or failure exactly as it answers the question. For a key whose private half is here
 * (a key file: nothing to unlock on each use, unlike an agent's or a hardware key), the question
 * is skipped: one round trip less per connection (~100 ms at 100 ms).
 *
 * ssh2 has no option for it, so this wraps, on one connection, its protocol's `authPK()` (ssh2
 * 1.x): a call without a signing callback (the question) for a private key goes out signed. A
 * failure then takes ssh2's own path (next signature algorithm, next key, next method). Where the
 * internals are not as expected (another ssh2 version), nothing changes: the question is asked.
 */
import type { Client } from "ssh2";

type Sign = (data: Buffer, done: (signature: Buffer) => void) => void;

interface ParsedKeyLike {
  isPrivateKey?: () => boolean;
  sign?: (data: Buffer, hash?: string) => Buffer | Error;
}

interface ProtocolLike {
  authPK?: (username: string, key: ParsedKeyLike, keyAlgo: string | undefined, sign?: Sign) => unknown;
}

/** The hash each signature algorithm signs with (ssh2's getKeyAlgos pairs them the same way). */
const HASH_OF: Record<string, string> = { "rsa-sha2-256": "sha256", "rsa-sha2-512": "sha512", "ssh-rsa": "sha1" };

/** After `client.connect()` (which creates the protocol object): sign at once on this connection. */
export function signWithoutAsking(client: Client): boolean {
  const protocol = (client as unknown as { _protocol?: ProtocolLike })._protocol;
  const authPK = protocol?.authPK;
  if (!protocol || typeof authPK !== "function") return false;
  protocol.authPK = function (this: ProtocolLike, username, key, keyAlgo, sign) {
    if (sign || typeof key?.sign !== "function" || key.isPrivateKey?.() !== true) return authPK.call(this, username, key, keyAlgo, sign);
    const signed: Sign = (data, done) => {
      const signature = key.sign?.(data, keyAlgo === undefined ? undefined : HASH_OF[keyAlgo]);
      // A key that cannot sign here: ask the question after all, as ssh2 would have.
      if (!(signature instanceof Buffer)) return void authPK.call(this, username, key, keyAlgo);
      done(signature);
    };
    return authPK.call(this, username, key, keyAlgo, signed);
  };
  return true;
}
