/** The step library, as playbooks import it. */
export { file } from "./file.ts";
export { directory } from "./directory.ts";
export { line } from "./line.ts";
export { configKeys } from "./config-keys.ts";
export { ownerMode } from "./owner-mode.ts";
export { packages } from "./packages.ts";
export { service, reloadService, restartService } from "./service.ts";
export { postconf } from "./postconf.ts";
export { masterService } from "./master-service.ts";
export { sasldbUser } from "./sasldb-user.ts";
export { groupMember } from "./group-member.ts";
export { iptablesRule } from "./iptables-rule.ts";
export { iptablesPersist } from "./iptables-persist.ts";
export { verifySmtp } from "./verify-smtp.ts";
export { verifyDns } from "./verify-dns.ts";
export { tlsCertificate, type TlsCertificateStep } from "./tls-certificate.ts";
export { dkimKey, dkimRecord, type DkimKeyStep } from "./dkim-key.ts";
export { systemdDaemonReload } from "./systemd-daemon-reload.ts";
