import { describe, expect, it } from "vitest";
import { InvalidStepError } from "../../../src/playbook/step.ts";
import {
  editMasterCf,
  masterService,
  type MasterServiceParams,
  parseMasterCf,
  parseMasterServiceState,
} from "../../../src/steps/master-service.ts";
import {
  debianPostfix,
  FakePostfix,
  fixture,
  masterCapture,
  mockHost,
  postconfCapture,
  runSteps,
  splitPostconfRead,
} from "./postfix-fake.ts";

const read = (name: string) => parseMasterServiceState(masterCapture(name).result, "submission", "inet");

/** What the guide's step ("uncomment submission") means, with SASL on that port. */
const submission = {
  service: "submission",
  type: "inet",
  private: "n",
  chroot: "n",
  command: "smtpd",
  options: {
    syslog_name: "postfix/submission",
    smtpd_sasl_auth_enable: "yes",
    smtpd_recipient_restrictions: "permit_sasl_authenticated,reject",
  },
} as const;

function centos7(): FakePostfix {
  return new FakePostfix(mockHost("centos7"), {
    version: "2.10.1",
    main: "",
    known: splitPostconfRead(postconfCapture("fresh").stdout).known,
    masterCf: fixture("centos7-master.cf"),
  });
}

function rocky9(): FakePostfix {
  const fake = centos7();
  return new FakePostfix(mockHost("rocky9"), { version: "3.5.9", main: "", known: fake.known, masterCf: fake.masterCf });
}

describe("masterService: reading (real Debian 12 / Postfix 3.7 output)", () => {
  it("a fresh Debian host: submission only commented out → absent, with the comment's line", () => {
    const state = read("fresh");
    expect(state).toMatchObject({
      mailVersion: "3.7.11",
      configDirectory: "/etc/postfix",
      viaPostconf: true,
      entry: null,
      commentedLine: 19,
    });
  });

  it("after postconf -Me: fields from -F, options from -P, command without its -o options", () => {
    const state = read("converged");
    expect(state.entry).toMatchObject({ private: "n", unpriv: "-", chroot: "n", wakeup: "-", maxproc: "-", command: ["smtpd"] });
    expect(Object.fromEntries(state.entry?.options ?? [])).toEqual(submission.options);
  });

  it("is converged on the real state after apply, though -P lists options in another order", () => {
    expect(masterService(submission).diff(read("converged"))).toBeNull();
  });
});

describe("masterService: diff", () => {
  it("the commented-out entry counts as absent; the summary says it stays a comment", () => {
    const change = masterService(submission).diff(read("fresh"));
    expect(change?.summary).toBe("add submission/inet (the commented-out entry at line 19 stays a comment)");
    expect(change?.diff).toEqual({
      label: "/etc/postfix/master.cf",
      before: "",
      after:
        "submission inet n - n - - smtpd\n  -o smtpd_recipient_restrictions=permit_sasl_authenticated,reject\n" +
        "  -o smtpd_sasl_auth_enable=yes\n  -o syslog_name=postfix/submission\n",
    });
  });

  it.each<[Partial<MasterServiceParams>, string]>([
    [{ chroot: "y" }, "chroot n → y"],
    [{ options: { ...submission.options, smtpd_sasl_auth_enable: "no" } }, "-o smtpd_sasl_auth_enable: 'yes' → 'no'"],
    [{ options: { ...submission.options, smtpd_tls_security_level: "encrypt" } }, "add -o smtpd_tls_security_level=encrypt"],
    [{ options: { syslog_name: "postfix/submission", smtpd_sasl_auth_enable: "yes" } }, "remove -o smtpd_recipient_restrictions"],
    [{ args: ["-v"] }, "command 'smtpd' → 'smtpd -v'"],
  ])("%j → %s", (override, summary) => {
    const change = masterService({ ...submission, ...override }).diff(read("converged"));
    expect(change?.summary).toBe(summary);
  });

  it("absent: removes a live entry, and a commented-out one is already absent", () => {
    const absent = masterService({ ...submission, state: "absent" });
    expect(absent.diff(read("converged"))?.summary).toBe("remove submission/inet");
    expect(absent.diff(read("fresh"))).toBeNull();
  });

  it("values with spaces need Postfix ≥ 3.0 ({ } quoting)", () => {
    const spaced = masterService({ ...submission, options: { smtpd_client_restrictions: "permit_sasl_authenticated reject" } });
    const old = { ...read("fresh"), mailVersion: "2.10.1", viaPostconf: false };
    expect(() => spaced.diff(old)).toThrow(InvalidStepError);
    expect(() => spaced.diff(read("fresh"))).not.toThrow();
  });
});

describe("masterService: apply", () => {
  it("Postfix ≥ 2.11: one postconf -Me with the whole entry (fields, command, every -o)", async () => {
    const fake = debianPostfix();
    await runSteps(fake.host, () => [masterService(submission)], "apply");
    expect(fake.host.commands.filter((c) => c.command.startsWith("postconf -M")).map((c) => c.command)).toEqual([
      "postconf -Me 'submission/inet=submission inet n - n - - smtpd -o syslog_name=postfix/submission " +
        "-o smtpd_sasl_auth_enable=yes -o smtpd_recipient_restrictions=permit_sasl_authenticated,reject'",
    ]);
  });

  it("a value with spaces is sent in { } (Postfix ≥ 3.0)", async () => {
    const fake = debianPostfix();
    await runSteps(
      fake.host,
      () => [masterService({ ...submission, options: { smtpd_client_restrictions: "permit_sasl_authenticated reject" } })],
      "apply",
    );
    expect(fake.host.commands.find((c) => c.command.startsWith("postconf -Me"))?.command).toContain(
      "-o { smtpd_client_restrictions=permit_sasl_authenticated reject }",
    );
  });

  it("absent: postconf -MX", async () => {
    const fake = debianPostfix();
    await runSteps(fake.host, () => [masterService(submission)], "apply");
    await runSteps(fake.host, () => [masterService({ ...submission, state: "absent" })], "apply");
    expect(fake.host.commands.at(-1)?.command).toBe("postconf -MX submission/inet");
    expect(parseMasterCf(fake.masterCf).some((e) => e.entry.service === "submission")).toBe(false);
  });

  it("CentOS 7 (Postfix 2.10, no postconf -M): edits master.cf atomically, never calls postconf -M", async () => {
    const fake = centos7();
    const report = await runSteps(fake.host, () => [masterService(submission)], "apply");
    expect(report.steps[0]?.summary).toBe("add submission/inet (the commented-out entry at line 17 stays a comment)");
    expect(fake.host.commands.some((c) => c.command.startsWith("postconf -M"))).toBe(false);
    expect(fake.host.commands.some((c) => c.command.includes("\nset -e; umask 077; dir=/etc/postfix; path=/etc/postfix/master.cf\n"))).toBe(
      true,
    );
    expect(fake.masterCf).toBe(
      fixture("centos7-master.cf") +
        "submission inet n - n - - smtpd\n  -o syslog_name=postfix/submission\n  -o smtpd_sasl_auth_enable=yes\n" +
        "  -o smtpd_recipient_restrictions=permit_sasl_authenticated,reject\n",
    );
  });

  it.each([
    ["debian12 (3.7, postconf -M)", debianPostfix],
    ["rocky9 (3.5, postconf -M)", rocky9],
    ["centos7 (2.10, file edit)", centos7],
  ])("%s: apply, apply again (0 changes), check clean, tamper → drift → apply → clean", async (_os, make) => {
    const fake = make();
    const steps = () => [masterService(submission)];
    expect((await runSteps(fake.host, steps, "apply")).counts.changed).toBe(1);
    expect((await runSteps(fake.host, steps, "apply")).counts.changed).toBe(0);
    expect((await runSteps(fake.host, steps, "check")).status).toBe("ok");

    // by hand: drop an option, add one, flip chroot (what an admin's vi session does)
    fake.masterCf = fake.masterCf.replace(
      /^submission inet n - n - - smtpd\n {2}-o syslog_name=postfix\/submission\n/m,
      "submission inet n - y - - smtpd\n  -o smtpd_tls_security_level=none\n",
    );
    const drift = await runSteps(fake.host, steps, "check");
    expect(drift.status).toBe("drift");
    expect(drift.steps[0]?.name).toBe("master.cf submission/inet");
    expect(drift.steps[0]?.summary).toBe("chroot y → n, add -o syslog_name=postfix/submission, remove -o smtpd_tls_security_level");
    expect(drift.steps[0]?.diff).toContain("-  -o smtpd_tls_security_level=none");
    await runSteps(fake.host, steps, "apply");
    expect((await runSteps(fake.host, steps, "check")).status).toBe("ok");
    expect(parseMasterCf(fake.masterCf).filter((e) => e.entry.service === "submission")).toHaveLength(1);
  });
});

describe("master.cf parsing and the fallback edit", () => {
  const text = [
    "# comment",
    "smtp      inet  n       -       n       -       -       smtpd",
    "submission inet n - n - - smtpd",
    "  -o syslog_name=postfix/submission",
    "#  -o commented=out",
    "  -o smtpd_sasl_auth_enable=yes",
    "pickup    unix  n       -       n       60      1       pickup",
    "maildrop  unix  -       n       n       -       -       pipe",
    "  flags=DRhu user=vmail argv=/usr/local/bin/maildrop -d ${recipient}",
    "",
  ].join("\n");

  it("follows continuation lines, skips comments inside an entry, keeps pipe arguments", () => {
    const entries = parseMasterCf(text);
    expect(entries.map((e) => [e.entry.service, e.start, e.end])).toEqual([
      ["smtp", 1, 2],
      ["submission", 2, 6],
      ["pickup", 6, 7],
      ["maildrop", 7, 9],
    ]);
    expect(Object.fromEntries(entries[1]?.entry.options ?? [])).toEqual({
      syslog_name: "postfix/submission",
      smtpd_sasl_auth_enable: "yes",
    });
    expect(entries[3]?.entry.command).toEqual(["pipe", "flags=DRhu", "user=vmail", "argv=/usr/local/bin/maildrop", "-d", "${recipient}"]);
  });

  it("replaces the entry in place, removes earlier duplicates, appends when missing", () => {
    const entry = parseMasterCf("submission inet n - y - - smtpd\n  -o a=b\n")[0]?.entry ?? null;
    expect(editMasterCf(text, "submission", "inet", entry)).toBe(
      text.replace(
        "submission inet n - n - - smtpd\n  -o syslog_name=postfix/submission\n#  -o commented=out\n  -o smtpd_sasl_auth_enable=yes",
        "submission inet n - y - - smtpd\n  -o a=b",
      ),
    );
    const twice = `${text}submission inet n - n - - smtpd\n`;
    expect(parseMasterCf(editMasterCf(twice, "submission", "inet", entry)).filter((e) => e.entry.service === "submission")).toHaveLength(1);
    expect(editMasterCf("smtp inet n - n - - smtpd", "submission", "inet", entry)).toBe(
      "smtp inet n - n - - smtpd\nsubmission inet n - y - - smtpd\n  -o a=b\n",
    );
    expect(editMasterCf(text, "nothere", "inet", null)).toBe(text);
  });
});
