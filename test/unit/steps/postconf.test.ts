import { missingTool, missingToolMessage } from "../../../src/shell/read-output.ts";
import type { RemoteRead } from "../../../src/playbook/step.ts";
import { describe, expect, it } from "vitest";
import { InvalidStepError } from "../../../src/playbook/step.ts";
import { damerauLevenshtein, listTokens, parsePostconfState, postconf, sameValue, suggest } from "../../../src/steps/postconf.ts";
import { debianPostfix, FakePostfix, mockHost, postconfCapture, runSteps, splitPostconfRead } from "./postfix-fake.ts";

const debianFresh = () => parsePostconfState(postconfCapture("fresh").result);

/** The guide's settings (with its typo fixed) as a playbook writes them. */
const guide = {
  smtpd_sasl_auth_enable: "yes",
  smtpd_sasl_local_domain: "$myhostname",
  smtpd_banner: "$myhostname ESMTP unknown",
  smtpd_recipient_restrictions: "permit_mynetworks,\n    permit_sasl_authenticated,\n    reject_unauth_destination",
};

describe("postconf: reading (real Debian 12 / Postfix 3.7 output)", () => {
  it("parses postconf -n, the known names and master.cf references", () => {
    const state = debianFresh();
    expect(state.set.get("myhostname")).toBe("testhost.invalid");
    expect(state.set.get("relayhost")).toBe("");
    expect(state.set.get("smtpd_banner")).toBe("$myhostname ESMTP $mail_name (Debian/GNU)");
    expect(state.known.size).toBeGreaterThan(1000);
    expect(state.known.has("smtpd_sasl_security_options")).toBe(true);
    expect(state.referenced.has("service_name")).toBe(true); // relay/unix -o syslog_name=postfix/$service_name
  });

  it("fails the read when Postfix is not installed", () => {
    // The read declares postconf; the runner turns its absence into one error (src/shell/read-output.ts).
    const result = { exitCode: 127, stdout: Buffer.alloc(0), stderr: Buffer.from("sh: postconf: not found") };
    const read = postconf({ settings: { biff: "no" } }).read() as RemoteRead<unknown>;
    expect(missingTool(result, read.requiresTools ?? [])).toBe("postconf");
    expect(missingToolMessage("postconf", "vps1")).toMatch(/^postconf not found on vps1: is Postfix installed\?$/);
    expect(() => parsePostconfState(result)).toThrow(/postconf failed/);
  });

  it("reads with one batched fragment, -c for another instance", () => {
    const read = postconf({ settings: { biff: "no" }, configDir: "/etc/postfix-out" }).read();
    expect("command" in read && read.command.text).toMatch(/^postconf -c \/etc\/postfix-out -n \|\| exit/);
    expect("command" in read && read.command.text).toContain("-d | sed 's/ =.*//'");
  });
});

describe("postconf: unknown parameters", () => {
  it("refuses the guide's misspelling with the host's own suggestion", () => {
    const step = postconf({ settings: { smtpd_sasl_secrity_options: "noanonymous, noplaintext" } });
    expect(() => step.diff(debianFresh())).toThrow(InvalidStepError);
    expect(() => step.diff(debianFresh())).toThrow(
      "unknown Postfix parameter smtpd_sasl_secrity_options — did you mean smtpd_sasl_security_options?",
    );
  });

  it("fails the host before anything is changed, in apply mode too", async () => {
    const fake = debianPostfix();
    const steps = () => [postconf({ settings: { ...guide, smtpd_sasl_secrity_options: "noanonymous, noplaintext" } })];
    for (const mode of ["check", "apply"] as const) {
      const report = await runSteps(fake.host, steps, mode);
      expect(report.status).toBe("failed");
      expect(report.error).toContain("did you mean smtpd_sasl_security_options?");
    }
    expect(fake.host.commands.filter((c) => c.command.includes("postconf -e"))).toEqual([]);
    expect(fake.main.has("smtpd_sasl_auth_enable")).toBe(false);
  });

  it.each([
    ["a built-in parameter", "smtpd_sasl_security_options", true],
    ["already set in main.cf", "myhostname", true],
    ["per-transport form of a service not yet in master.cf", "dovecot_destination_recipient_limit", true],
    ["referenced by master.cf (relay -o syslog_name=…$service_name)", "service_name", true],
    ["a typo", "smtpd_recipient_restriction", false],
    ["a typo of a per-transport suffix", "dovecot_destination_recipient_limt", false],
  ])("%s: %s accepted = %s", (_label, name, accepted) => {
    const diff = () => postconf({ settings: { [name]: "1" } }).diff(debianFresh());
    if (accepted) expect(diff).not.toThrow();
    else expect(diff).toThrow(/unknown Postfix parameter/);
  });

  it("accepts a user-defined parameter that another desired value references", () => {
    const step = postconf({
      settings: { mua_client_restrictions: "permit_sasl_authenticated, reject", smtpd_client_restrictions: "$mua_client_restrictions" },
    });
    expect(() => step.diff(debianFresh())).not.toThrow();
  });

  it("suggests only plausible typos", () => {
    const known = debianFresh().known;
    expect(suggest("smtpd_sasl_secrity_options", known)).toBe("smtpd_sasl_security_options");
    expect(suggest("mydestinaton", known)).toBe("mydestination");
    expect(suggest("completely_unrelated_name_here", known)).toBeUndefined();
    expect(damerauLevenshtein("ab", "ba")).toBe(1);
    expect(damerauLevenshtein("kitten", "sitting")).toBe(3);
  });
});

describe("postconf: comparing values", () => {
  it.each([
    // name, current (as postconf -n prints it), desired, same?
    [
      "smtpd_recipient_restrictions",
      "permit_mynetworks, permit_sasl_authenticated, reject_unauth_destination",
      "permit_mynetworks, permit_sasl_authenticated,reject_unauth_destination",
      true,
    ],
    [
      "smtpd_recipient_restrictions",
      "permit_mynetworks, permit_sasl_authenticated, reject_unauth_destination",
      "permit_mynetworks,\n  permit_sasl_authenticated,\n  reject_unauth_destination",
      true,
    ],
    [
      "smtpd_relay_restrictions",
      "permit_mynetworks permit_sasl_authenticated defer_unauth_destination",
      "permit_mynetworks, permit_sasl_authenticated, defer_unauth_destination",
      true,
    ],
    ["smtpd_recipient_restrictions", "permit_sasl_authenticated, permit_mynetworks", "permit_mynetworks, permit_sasl_authenticated", false], // order matters
    ["mynetworks", "127.0.0.0/8 [::ffff:127.0.0.0]/104 [::1]/128", "127.0.0.0/8, [::ffff:127.0.0.0]/104, [::1]/128", true],
    ["mydestination", "$myhostname, localhost.localdomain, localhost", "$myhostname localhost.localdomain localhost", true],
    ["smtpd_sasl_security_options", "noanonymous", "noanonymous, noplaintext", false],
    // $variables compared as written, never expanded
    ["smtpd_sasl_local_domain", "$myhostname", "$myhostname", true],
    ["smtpd_sasl_local_domain", "testhost.invalid", "$myhostname", false],
    ["smtpd_sasl_local_domain", "${myhostname}", "$myhostname", false],
    // free text: commas and words are the value
    ["smtpd_banner", "$myhostname ESMTP $mail_name", "$myhostname ESMTP $mail_name", true],
    ["smtpd_banner", "$myhostname ESMTP, $mail_name", "$myhostname ESMTP $mail_name", false],
    ["smtpd_banner", "$myhostname ESMTP $mail_name", "$myhostname   ESMTP  $mail_name", true], // postconf -n squashes spaces
    ["mailbox_command", "/usr/bin/procmail -a $EXTENSION", "/usr/bin/procmail -a $EXTENSION", true],
    // Postfix 3 { } groups are one list element
    ["smtpd_milters", "{ inet:localhost:8891, default_action=accept }", "{inet:localhost:8891, default_action=accept}", true],
  ])("%s: %j vs %j → %s", (name, current, desired, same) => {
    expect(sameValue(name, current, desired)).toBe(same);
  });

  it("keeps { } groups whole when splitting lists", () => {
    expect(listTokens("a, { b, c } d")).toEqual(["a", "{ b, c }", "d"]);
  });
});

describe("postconf: diff and apply", () => {
  it("reports each changed parameter with before/after lines (label main.cf)", () => {
    const change = postconf({ settings: guide }).diff(debianFresh());
    expect(change?.summary).toContain("set smtpd_sasl_auth_enable: (default) → 'yes'");
    expect(change?.summary).toContain("set smtpd_banner: '$myhostname ESMTP $mail_name (Debian/GNU)' → '$myhostname ESMTP unknown'");
    expect(change?.diff).toEqual({
      label: "main.cf",
      before: "smtpd_banner = $myhostname ESMTP $mail_name (Debian/GNU)\n",
      after:
        "smtpd_sasl_auth_enable = yes\nsmtpd_sasl_local_domain = $myhostname\nsmtpd_banner = $myhostname ESMTP unknown\n" +
        "smtpd_recipient_restrictions = permit_mynetworks, permit_sasl_authenticated, reject_unauth_destination\n",
    });
  });

  it("is converged on the real host state after an apply (no false change)", () => {
    const converged = parsePostconfState(postconfCapture("converged").result);
    expect(postconf({ settings: guide }).diff(converged)).toBeNull();
  });

  it("sends every change in one postconf -e, values quoted, lines joined", async () => {
    const fake = debianPostfix();
    const report = await runSteps(fake.host, () => [postconf({ settings: guide })], "apply");
    expect(report.status).toBe("changed");
    const edits = fake.host.commands.filter((c) => c.command.startsWith("postconf -e"));
    expect(edits.map((c) => c.command)).toEqual([
      "postconf -e smtpd_sasl_auth_enable=yes 'smtpd_sasl_local_domain=$myhostname' 'smtpd_banner=$myhostname ESMTP unknown' " +
        "'smtpd_recipient_restrictions=permit_mynetworks, permit_sasl_authenticated, reject_unauth_destination'",
    ]);
  });

  it.each(["debian12", "rocky9"] as const)(
    "%s: apply, apply again (0 changes), check clean, tamper → drift → apply → clean",
    async (os) => {
      const fake =
        os === "debian12"
          ? debianPostfix()
          : new FakePostfix(mockHost("rocky9"), {
              version: "3.5.9",
              // Rocky 9's shipped main.cf, as `postconf -n` prints it (from the package's main.cf)
              main: [
                "alias_database = hash:/etc/aliases",
                "alias_maps = hash:/etc/aliases",
                "command_directory = /usr/sbin",
                "compatibility_level = 2",
                "inet_interfaces = localhost",
                "inet_protocols = all",
                "mydestination = $myhostname, localhost.$mydomain, localhost",
                "smtpd_tls_cert_file = /etc/pki/tls/certs/postfix.pem",
                "smtpd_tls_key_file = /etc/pki/tls/private/postfix.key",
                "smtpd_tls_security_level = may",
              ].join("\n"),
              known: splitPostconfRead(postconfCapture("fresh").stdout).known,
              masterCf: "smtp      inet  n       -       n       -       -       smtpd\n",
            });
      const steps = () => [
        postconf({ settings: { ...guide, inet_interfaces: "all", smtpd_sasl_security_options: "noanonymous, noplaintext" } }),
      ];
      expect((await runSteps(fake.host, steps, "apply")).counts.changed).toBe(1);
      const again = await runSteps(fake.host, steps, "apply");
      expect(again.counts.changed).toBe(0);
      expect(again.status).toBe("ok");
      expect((await runSteps(fake.host, steps, "check")).status).toBe("ok");

      fake.main.set("smtpd_sasl_security_options", "noanonymous");
      const drift = await runSteps(fake.host, steps, "check");
      expect(drift.status).toBe("drift");
      expect(drift.steps[0]?.summary).toBe("set smtpd_sasl_security_options: 'noanonymous' → 'noanonymous, noplaintext'");
      expect(drift.steps[0]?.diff).toContain(
        "-smtpd_sasl_security_options = noanonymous\n+smtpd_sasl_security_options = noanonymous, noplaintext",
      );
      await runSteps(fake.host, steps, "apply");
      expect((await runSteps(fake.host, steps, "check")).status).toBe("ok");
    },
  );
});

describe("postconf: null unsets a parameter (postconf -X)", () => {
  it("removes a parameter main.cf sets, reports it, and is converged after", async () => {
    const fake = debianPostfix();
    fake.main.set("relayhost", "[smtp.example.net]:587");
    const step = () => [postconf({ settings: { relayhost: null, smtpd_sasl_auth_enable: "yes" } })];

    const check = await runSteps(fake.host, step, "check");
    expect(check.status).toBe("drift");
    expect(check.steps[0]?.summary).toBe(
      "set smtpd_sasl_auth_enable: (default) → 'yes'; unset relayhost: '[smtp.example.net]:587' → (default)",
    );
    expect(check.steps[0]?.diff).toContain("-relayhost = [smtp.example.net]:587");
    expect(fake.main.get("relayhost")).toBe("[smtp.example.net]:587");

    const apply = await runSteps(fake.host, step, "apply");
    expect(apply.status).toBe("changed");
    expect(fake.host.commands.filter((c) => c.command.startsWith("postconf -e")).map((c) => c.command)).toEqual([
      "postconf -e smtpd_sasl_auth_enable=yes && postconf -X relayhost",
    ]);
    expect(fake.main.has("relayhost")).toBe(false);
    expect((await runSteps(fake.host, step, "apply")).status).toBe("ok");
    expect((await runSteps(fake.host, step, "check")).status).toBe("ok");
  });

  it("is converged when the parameter is not set; alone it sends only -X", async () => {
    const fake = debianPostfix();
    expect(postconf({ settings: { smtpd_sasl_auth_enable: null } }).diff(debianFresh())).toBeNull();
    // Debian's main.cf sets `relayhost =` (empty): set is set, and null removes it.
    expect(postconf({ settings: { relayhost: null } }).diff(debianFresh())).toEqual({
      summary: "unset relayhost: '' → (default)",
      diff: { label: "main.cf", before: "relayhost =\n", after: "" },
      plan: { toSet: [], toRemove: ["relayhost"] },
    });
    // A parameter main.cf does not set yet: nothing on the before side (not a blank line).
    expect(postconf({ settings: { smtpd_sasl_auth_enable: "yes" } }).diff(debianFresh())?.diff).toEqual({
      label: "main.cf",
      before: "",
      after: "smtpd_sasl_auth_enable = yes\n",
    });
    await runSteps(fake.host, () => [postconf({ settings: { relayhost: null } })], "apply");
    expect(fake.host.commands.filter((c) => c.command.includes(" -X ")).map((c) => c.command)).toEqual(["postconf -X relayhost"]);
    expect(fake.main.has("relayhost")).toBe(false);
  });

  it("still refuses a misspelled name, set or unset", () => {
    expect(() => postconf({ settings: { relayhots: null } }).diff(debianFresh())).toThrow(
      /unknown Postfix parameter relayhots — did you mean relayhost\?/,
    );
  });
});
