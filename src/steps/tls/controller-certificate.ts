/**
 * A certificate chain and private key given on the controller (files the user has, e.g. from
 * their CA), checked here with node:crypto before anything is sent: every PEM block must be a
 * certificate, the key must be a private key matching the leaf (first) certificate, the leaf must
 * cover the host name, and it must not expire within the renewal window. A failure is bad input
 * (InvalidStepError) naming the files — never the key's content.
 */
import { createHash, createPrivateKey, X509Certificate } from "node:crypto";
import { InvalidStepError } from "../../playbook/step.ts";
import type { Secret } from "../../shell/secret.ts";

export interface ControllerCertificate {
  /** The chain as it will be written (normalised to end in a newline). */
  chain: string;
  chainSha256: string;
  fingerprint256: string;
  /** sha256 of the leaf's public key as PEM SPKI (what `openssl pkey -pubout` prints). */
  publicKeySha256: string;
  notAfter: Date;
}

const PEM_BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----\r?\n[\s\S]*?-----END \1-----/g;

// Long: the controller-side checks of the given chain and key, in order, each refusing with its own message.
export function checkControllerCertificate(input: {
  chain: string;
  key: Secret;
  hostname: string;
  renewBeforeDays: number;
  /** Names for messages: where the chain and the key came from. */
  chainName: string;
  keyName: string;
  now?: Date;
}): ControllerCertificate {
  const { chainName, keyName } = input;
  const blocks = [...input.chain.matchAll(PEM_BLOCK)];
  if (blocks.length === 0) throw new InvalidStepError(`tlsCertificate: ${chainName}: no PEM certificate in it`);
  const certificates = blocks.map((block, index) => {
    if (block[1] !== "CERTIFICATE") {
      throw new InvalidStepError(
        `tlsCertificate: ${chainName}: PEM block ${index + 1} is a ${block[1]}, not a CERTIFICATE (the key goes in the key file)`,
      );
    }
    try {
      return new X509Certificate(block[0]);
    } catch {
      throw new InvalidStepError(`tlsCertificate: ${chainName}: PEM block ${index + 1} is not a valid certificate`);
    }
  });
  const leaf = certificates[0] as X509Certificate;
  let key: ReturnType<typeof createPrivateKey>;
  try {
    key = createPrivateKey(input.key.reveal());
  } catch {
    // node's message says nothing useful and must not risk echoing key material.
    throw new InvalidStepError(`tlsCertificate: ${keyName}: not a PEM private key (or it is encrypted)`);
  }
  if (!leaf.checkPrivateKey(key)) {
    throw new InvalidStepError(
      `tlsCertificate: ${keyName} does not match the certificate in ${chainName} (subject ${oneLine(leaf.subject)})`,
    );
  }
  if (leaf.checkHost(input.hostname) === undefined) {
    throw new InvalidStepError(
      `tlsCertificate: the certificate in ${chainName} does not cover ${input.hostname} (SAN: ${leaf.subjectAltName ?? "none"})`,
    );
  }
  const notAfter = new Date(leaf.validTo);
  const now = input.now ?? new Date();
  const renewFrom = new Date(notAfter.getTime() - input.renewBeforeDays * 86_400_000);
  if (now >= renewFrom) {
    const when = now >= notAfter ? "expired on" : "expires on";
    throw new InvalidStepError(
      `tlsCertificate: the certificate in ${chainName} ${when} ${leaf.validTo}, within renewBeforeDays (${input.renewBeforeDays}): renew it first`,
    );
  }
  const chain = input.chain.endsWith("\n") ? input.chain : `${input.chain}\n`;
  return {
    chain,
    chainSha256: createHash("sha256").update(chain).digest("hex"),
    fingerprint256: leaf.fingerprint256,
    publicKeySha256: createHash("sha256")
      .update(leaf.publicKey.export({ type: "spki", format: "pem" }))
      .digest("hex"),
    notAfter,
  };
}

function oneLine(text: string): string {
  return text.split("\n").filter(Boolean).join(", ");
}
