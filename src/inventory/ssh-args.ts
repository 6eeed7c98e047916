/**
 * `ansible_ssh_common_args` / `ansible_ssh_extra_args`: OpenSSH command-line options, mapped onto
 * what provision's own SSH client has. Honoured: `-o ProxyCommand=…`, `-o ProxyJump=…` / `-J`,
 * `-o Port=…` / `-p`, `-o User=…` / `-l`, `-o IdentityFile=…` / `-i`, `-o UserKnownHostsFile=…`,
 * `-o StrictHostKeyChecking=accept-new|no` (as in ssh-config.ts: an unknown key is recorded, a
 * changed one is still refused). Everything else is returned as `ignored`, for a warning.
 */
export interface SshArgs {
  proxyCommand?: string;
  proxyJump?: string;
  port?: number;
  user?: string;
  identityFiles?: string[];
  knownHostsFiles?: string[];
  acceptNewHostKeys?: boolean;
}

export interface ParsedSshArgs {
  args: SshArgs;
  /** Options as written that provision does not honour (for warnings). */
  ignored: string[];
}

/** Options that take an argument (ssh(1)); their argument is skipped with them. */
const WITH_ARGUMENT = new Set("BbcDEeFIiJLlmOoPpQRSWw".split(""));

export function parseSshArgs(text: string): ParsedSshArgs {
  const words = splitShellWords(text);
  const args: SshArgs = {};
  const ignored: string[] = [];
  for (let i = 0; i < words.length; i += 1) {
    const word = words[i] as string;
    const flag = /^-([A-Za-z])(.*)$/s.exec(word);
    if (!flag) {
      ignored.push(word);
      continue;
    }
    const [, letter = "", attached = ""] = flag;
    const separate = WITH_ARGUMENT.has(letter) && attached === "";
    const value = separate ? words[i + 1] : attached;
    if (separate) i += 1;
    const written = separate && value !== undefined ? `${word} ${value}` : word;
    if (value === undefined) {
      ignored.push(written);
      continue;
    }
    if (letter === "o") applyOption(value, args, ignored, written);
    else if (letter === "J") args.proxyJump = value;
    else if (letter === "p" && /^\d+$/.test(value)) args.port = Number(value);
    else if (letter === "l") args.user = value;
    else if (letter === "i") (args.identityFiles ??= []).push(value);
    else ignored.push(written);
  }
  return { args, ignored };
}

function applyOption(option: string, args: SshArgs, ignored: string[], written: string): void {
  const match = /^\s*([A-Za-z]+)\s*(?:=\s*|\s+)(.*)$/s.exec(option);
  if (!match) return void ignored.push(written);
  const [, name = "", value = ""] = match;
  switch (name.toLowerCase()) {
    case "proxycommand":
      if (value.toLowerCase() !== "none") args.proxyCommand = value;
      return;
    case "proxyjump":
      args.proxyJump = value;
      return;
    case "port":
      if (/^\d+$/.test(value)) args.port = Number(value);
      else ignored.push(written);
      return;
    case "user":
      args.user = value;
      return;
    case "identityfile":
      (args.identityFiles ??= []).push(value);
      return;
    case "userknownhostsfile":
      (args.knownHostsFiles ??= []).push(...value.split(/\s+/).filter(Boolean));
      return;
    case "stricthostkeychecking": {
      const v = value.toLowerCase();
      if (v === "accept-new" || v === "no" || v === "off") args.acceptNewHostKeys = true;
      else if (v === "yes" || v === "ask") args.acceptNewHostKeys = false;
      else ignored.push(written);
      return;
    }
    default:
      ignored.push(written);
  }
}

/** POSIX-shell-like word splitting (quotes and backslashes), as Ansible's shlex.split does. */
export function splitShellWords(text: string): string[] {
  const words: string[] = [];
  let current: string | undefined;
  for (let i = 0; i < text.length; i += 1) {
    const c = text[i] as string;
    if (c === "'") {
      const close = text.indexOf("'", i + 1);
      if (close < 0) throw new Error(`unterminated ' quote in ${JSON.stringify(text)}`);
      current = (current ?? "") + text.slice(i + 1, close);
      i = close;
    } else if (c === '"') {
      let j = i + 1;
      let out = "";
      for (; j < text.length && text[j] !== '"'; j += 1) {
        if (text[j] === "\\" && /["\\$`]/.test(text[j + 1] ?? "")) j += 1;
        out += text[j];
      }
      if (j >= text.length) throw new Error(`unterminated " quote in ${JSON.stringify(text)}`);
      current = (current ?? "") + out;
      i = j;
    } else if (c === "\\" && i + 1 < text.length) {
      current = (current ?? "") + text[i + 1];
      i += 1;
    } else if (/\s/.test(c)) {
      if (current !== undefined) words.push(current);
      current = undefined;
    } else current = (current ?? "") + c;
  }
  if (current !== undefined) words.push(current);
  return words;
}
