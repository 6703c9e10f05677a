// A minimal extension app: in the browser, with the user's tokens, it reads a stream's messages and listens for new
// ones, lists and fetches objects of the Object Store, and streams a blob, decrypting everything in the page
// (allegro-ts on WebCrypto).
// Build and serve it (README "Extension apps in the browser"), from the repository root:
//   npx esbuild examples/extension-app/app.js --bundle --format=esm --tsconfig-raw={} --outfile=examples/extension-app/bundle.js --servedir=examples/extension-app --serve=127.0.0.1:8000
// then open http://127.0.0.1:8000/ in a browser that trusts the sandbox's certificate.
//
// Every action is also callable as window.extensionApp.<name>(…) and resolves to a JSON-safe summary: the browser
// test (test/browser/extension-app.test.ts) drives the page that way.
import { AllegroClient } from 'allegro-ts';

const $ = (id) => document.getElementById(id);
let client;

/** One line in the page's log: what was done, and what came of it. */
function log(ok, text) {
  const line = document.createElement('li');
  line.className = ok ? 'ok' : 'failed';
  line.textContent = `${ok ? '✓' : '✗'} ${text}`;
  $('log').append(line);
}

/** Run an action, log its outcome; failures are AllegroErrors with a stable `code` (docs/errors.md). */
async function act(name, run) {
  try {
    const result = await run();
    log(true, `${name}: ${result.summary}`);
    return result;
  } catch (err) {
    log(false, `${name}: ${err.code ?? err.name}: ${err.message}`);
    return { error: { code: err.code ?? null, name: err.name, message: err.message } };
  }
}

/**
 * The user's tokens. A real extension app asks its backend (which got them for the user, e.g. on behalf of the
 * user): put that call here. If the embedding page defines window.fetchTokens, it is used; otherwise the form's fields.
 */
async function tokens() {
  if (typeof window.fetchTokens === 'function') return window.fetchTokens();
  return { session: $('session').value.trim(), keyManager: $('keyManager').value.trim() };
}

/** Connect to the pod at `podUrl` with the user's tokens, renewed through tokens() whenever the pod answers 401. */
async function connect(podUrl) {
  return act('connect', async () => {
    await client?.close();
    const url = new URL(podUrl);
    const pem = $('privateKey').value.trim();
    const credentials = pem !== ''
      // Sandbox only: log in in the page with the user's private key (never ship a private key to a browser).
      ? { bot: { username: $('username').value.trim(), privateKey: { content: pem } } }
      : { tokens: { ...(await tokens()), refresh: tokens } };
    client = await AllegroClient.create({ scheme: 'https', host: url.hostname, port: Number(url.port || 443), ...credentials });
    return { summary: `user ${client.username} (${client.userId})`, userId: client.userId, username: client.username };
  });
}

/** The last messages of a stream, decrypted (each undecryptable one with its error's code). */
function readMessages(streamId, limit = 10) {
  return act('messages', async () => {
    const messages = (await client.pod.history(streamId, { limit })).map((m) => ({ from: m.fromUserId, text: m.text, error: m.error?.code ?? null }));
    for (const m of messages) log(m.error === null, `  ${m.from}: ${m.error ?? m.text}`);
    return { summary: `${messages.length} messages`, messages };
  });
}

/** Every current object of a partition, decrypted, page by page. */
function listObjects(partition) {
  return act('objects', async () => {
    const objects = [];
    for await (const object of client.objects.list(partition, { pageSize: 2 })) {
      objects.push({ sortKey: object.sortKey, value: object.json(), header: object.header });
    }
    return { summary: `${objects.length}: ${objects.map((o) => `${o.sortKey}=${JSON.stringify(o.value)}`).join(', ')}`, objects };
  });
}

/** One object by hash (a tampered one is refused: DECRYPTION_FAILED). */
function getObject(hash) {
  return act('object', async () => {
    const object = await client.objects.get(hash);
    return { summary: `${object.sortKey}=${JSON.stringify(object.json())}`, sortKey: object.sortKey, value: object.json() };
  });
}

/** SHA-256 of some bytes, as hex. */
async function sha256Hex(bytes) {
  return [...new Uint8Array(await crypto.subtle.digest('SHA-256', bytes))].map((b) => b.toString(16).padStart(2, '0')).join('');
}

/** Stream a blob through a web ReadableStream, decrypting frame by frame; its SHA-256 and the speed. */
function readBlob(ref) {
  return act('blob', async () => {
    const started = performance.now();
    const blob = await client.objects.getBlob(ref);
    const plaintext = new Uint8Array(blob.size);
    const reader = blob.stream().getReader();
    let at = 0;
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      plaintext.set(value, at);
      at += value.length;
    }
    const seconds = (performance.now() - started) / 1000;
    const sha256 = await sha256Hex(plaintext);
    return { summary: `${at} bytes in ${seconds.toFixed(2)} s (${(at / 1e6 / seconds).toFixed(0)} MB/s), SHA-256 ${sha256}`, size: at, sha256, seconds };
  });
}

/** Bytes [start, end) of a blob: only the frames holding them are fetched (HTTP range requests). */
function readRange(ref, start, end) {
  return act('range', async () => {
    const bytes = await client.objects.getBlobRange(ref, start, end);
    const sha256 = await sha256Hex(bytes);
    return { summary: `bytes ${start}-${end}: ${bytes.length} bytes, SHA-256 ${sha256}`, size: bytes.length, sha256 };
  });
}

let feed;

/** Log every message that arrives from now on (Datafeed 2.0, decrypted in the page) until listen() is called again. */
function listen() {
  return act('listen', async () => {
    feed?.stop();
    feed = client.datafeed();
    void feed.listen((event) => {
      if (event.message !== undefined) log(true, `  live ${event.message.fromUserId}: ${event.message.text}`);
      else if (event.error !== undefined) log(false, `  live: ${event.error.code}`);
    });
    return { summary: 'listening for new messages' };
  });
}

/** How often tokens were renewed (a 401 answered with new tokens from tokens()). */
function renewals() {
  return client.session.logins;
}

window.extensionApp = { connect, readMessages, listen, listObjects, getObject, readBlob, readRange, renewals };

$('connect').addEventListener('submit', (e) => { e.preventDefault(); void connect($('pod').value); });
$('messages').addEventListener('submit', (e) => { e.preventDefault(); void readMessages($('stream').value.trim()); });
$('listen').addEventListener('click', () => { void listen(); });
$('objects').addEventListener('submit', (e) => { e.preventDefault(); void listObjects($('partition').value.trim()); });
$('object').addEventListener('submit', (e) => { e.preventDefault(); void getObject($('hash').value.trim()); });
$('blob').addEventListener('submit', (e) => {
  e.preventDefault();
  const ref = $('blobRef').value.trim();
  const [start, end] = [$('start').value, $('end').value].map(Number);
  void (end > start ? readRange(ref, start, end) : readBlob(ref));
});
document.body.dataset.ready = 'true';
