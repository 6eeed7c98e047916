// The floor, ssh2 side: connect to every host in parallel (host key checked against known_hosts,
// public-key auth), run one command (`true`), disconnect. Plain JavaScript, so no TypeScript
// loader is in the measurement: this is what any Node SSH tool pays at least.
//   node bench/floor-ssh2.mjs KEY KNOWN_HOSTS USER ADDRESS[:PORT]...
import fs from "node:fs";
import ssh2 from "ssh2";

const [keyPath, knownHostsPath, user, ...addresses] = process.argv.slice(2);
const privateKey = fs.readFileSync(keyPath);
const known = new Map(
  fs
    .readFileSync(knownHostsPath, "utf8")
    .split("\n")
    .filter(Boolean)
    .map((line) => {
      const [hosts, , key] = line.split(" ");
      return [hosts, Buffer.from(key, "base64")];
    }),
);

function once(target) {
  const [address, port = "22"] = target.split(":");
  const knownAs = port === "22" ? address : `[${address}]:${port}`;
  return new Promise((resolve, reject) => {
    const client = new ssh2.Client();
    client.on("error", reject);
    client.on("ready", () => {
      client.exec("true", (error, channel) => {
        if (error) return reject(error);
        channel.on("close", (code) => {
          client.end();
          code === 0 ? resolve() : reject(new Error(`${address}: exit ${code}`));
        });
        channel.resume();
        channel.stderr.resume();
      });
    });
    client.connect({
      host: address,
      port: Number(port),
      username: user,
      privateKey,
      readyTimeout: 15000,
      hostVerifier: (key) => known.get(knownAs)?.equals(key) === true,
    });
  });
}

await Promise.all(addresses.map(once));
