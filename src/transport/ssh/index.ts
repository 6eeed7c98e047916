/** The SSH transport: connect, resolve ssh config aliases, verify host keys. */
export { connectSsh, SshTransport, type SshOptions } from "./ssh-transport.ts";
export {
  resolveSshTarget,
  resolveSshTargetFromText,
  parseProxyJump,
  parseJumpSpec,
  type SshTarget,
  type SshTargetOverrides,
  type JumpSpec,
} from "./ssh-config.ts";
export {
  parseKnownHosts,
  checkHostKey,
  hostFieldMatches,
  matchPattern,
  knownHostName,
  hashKnownHostName,
  fingerprintSha256,
  keyTypeOfBlob,
  formatKnownHostLine,
  type KnownHostEntry,
  type HostKeyVerdict,
} from "./known-hosts.ts";
export { appendKnownHostLine, ACCEPT_NEW_FLAG } from "./host-verifier.ts";
export { sudoCommand, sudoStdin, type BecomeOptions } from "./sudo.ts";
export { PASSPHRASE_ENV } from "./auth.ts";
