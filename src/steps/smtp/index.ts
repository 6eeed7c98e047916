/** A small SMTP client: reusable by playbooks' integration tests and by the verifySmtp step. */
export {
  SmtpConnection,
  SmtpError,
  type SmtpConnectOptions,
  type SmtpErrorKind,
  type TlsClientOptions,
  type TlsSession,
} from "./connection.ts";
export { parseReplyLine, parseReplies, formatReply, type SmtpReply, type ReplyLine } from "./reply.ts";
export { parseEhlo, type EhloInfo } from "./ehlo.ts";
export { cramMd5Digest, cramMd5Response } from "./cram-md5.ts";
export { bannerDisclosures } from "./banner.ts";
export {
  probeSmtp,
  authCramMd5,
  authPlain,
  addressLiteral,
  type SmtpProbeOptions,
  type SmtpProbeResult,
  type SmtpAuthResult,
  type SmtpLogin,
  type SmtpStage,
  type SmtpTlsOptions,
  type SmtpTlsResult,
} from "./probe.ts";
export { hostProbeCommand, parseHostProbe, type HostProbeOptions } from "./host-probe.ts";
