/**
 * `allegro demo` (`npm run demo`): the crypto core end to end, on one machine, with no account anywhere.
 * It plays the Key Manager's part locally (user RSA key pair, account key wrapped with RSAES-PKCS1-v1_5,
 * content key wrapped under the account key in a CiphertextTransport v3, as allegro-protocol.md §3.1 describes),
 * then does what a bot does: unwrap the chain, encrypt a message for the thread, show the transport fields,
 * decrypt it, encrypt a hashtag and make search tokens. Each step is checked; the exit code is 0 only if every
 * step did what it claims. (The embedded-sandbox demo replaces this once the sandbox exists.)
 */
import { AesKey } from '../../crypto/aes-key.js';
import { decryptEntity, encryptEntityV2 } from '../../crypto/entity.js';
import { platform } from '../../crypto/platform.js';
import { generateRsaKeyPair, RsaPrivateKey, RsaPublicKey, unwrapKey } from '../../crypto/rsa.js';
import { hashedTokens, plainTokens } from '../../crypto/search-tokens.js';
import { decryptText, encryptText, encryptTransport, parseTransport, decryptTransport, transportFromBase64 } from '../../crypto/transport.js';
import { toBase64, toHex } from '../../util/bytes.js';

interface Step {
  name: string;
  ok: boolean;
  ms: number;
}

/** Run the demo, writing its narrative to `out`. Resolves to true when every step succeeded. */
export async function runDemo(out: (line: string) => void): Promise<boolean> {
  const steps: Step[] = [];
  async function step<T>(name: string, run: () => Promise<T>, check: (value: T) => boolean): Promise<T> {
    const start = performance.now();
    const value = await run();
    const ok = check(value);
    steps.push({ name, ok, ms: performance.now() - start });
    out(`${ok ? '✔' : '✘'} ${name}`);
    return value;
  }

  const threadRotation = 42n;
  const kmUser = await step('Key Manager: generate the bot user\'s RSA-2048 key pair', generateRsaKeyPair, (p) => p.privateKeyPem.includes('PRIVATE KEY'));
  const accountKeyBytes = platform.randomFill(new Uint8Array(32));
  const contentKeyBytes = platform.randomFill(new Uint8Array(32));
  const wrappedAccountKey = new RsaPublicKey(kmUser.publicKeyPem).wrap(accountKeyBytes, 'pkcs1-v1_5');
  const kmAccountKey = new AesKey(accountKeyBytes);
  const wrappedContentKey = await encryptTransport(kmAccountKey, contentKeyBytes, { rotationId: 0 });
  out(`  wrapped account key: ${wrappedAccountKey.length} bytes (RSAES-PKCS1-v1_5); wrapped content key: ${wrappedContentKey.length} bytes (transport v3)`);

  const userKey = new RsaPrivateKey(kmUser.privateKeyPem);
  const accountKey = await step('Bot: unwrap the account key with its private key (constant-time PKCS#1 v1.5)',
    async () => new AesKey(await unwrapKey(userKey, wrappedAccountKey, 'pkcs1-v1_5')),
    (k) => toHex(k.keyId) === toHex(kmAccountKey.keyId));
  const contentKey = await step(`Bot: unwrap the thread's content key (rotation ${threadRotation}) under the account key`,
    async () => new AesKey(await decryptTransport(accountKey, wrappedContentKey)),
    (k) => toHex(k.bytes) === toHex(contentKeyBytes));

  const message = '<messageML>Hello <b>world</b> — ünïcödé, 中文, 😀 #Launch $AAPL</messageML>';
  const field = await step('Bot: encrypt a message for the thread (CiphertextTransport v3, base64)',
    () => encryptText(contentKey, message, { rotationId: threadRotation }), (f) => f.startsWith('Aw'));
  const t = parseTransport(transportFromBase64(field));
  out(`  version ${t.version} · podId ${t.podId} · rotationId ${t.rotationId} · mode ${t.mode} (AES-GCM)`);
  out(`  IV ${toHex(t.iv)} · AAD ${toHex(t.aad)}`);
  out(`  ciphertext ${t.ciphertext.length} bytes · tag ${toHex(t.tag)}`);
  out(`  keyId ${toHex(t.keyId ?? new Uint8Array(0))} (HMAC-SHA256(key, "KeyFingerprint"))`);
  out(`  on the wire: ${field.slice(0, 60)}… (${field.length} chars)`);
  await step('Recipient: decrypt it', () => decryptText(contentKey, field), (text) => text === message);

  const tampered = transportFromBase64(field);
  tampered[60]! ^= 1;
  await step('Recipient: a tampered ciphertext is refused with DECRYPTION_FAILED',
    () => decryptTransport(contentKey, tampered).then(() => 'accepted', (err: { code?: string }) => err.code ?? 'unknown'),
    (code) => code === 'DECRYPTION_FAILED');

  const entityKey = new AesKey(platform.randomFill(new Uint8Array(32)));
  const hashtag = await step('Bot: encrypt hashtag #Launch (entity v2, deterministic, with typeahead tokens)',
    () => encryptEntityV2(entityKey, '#Launch'), (c) => c.startsWith('!'));
  out(`  ${hashtag}`);
  await step('Recipient: decrypt the hashtag (lower-cased)', () => decryptEntity(entityKey, hashtag), (e) => e === '#launch');
  const words = plainTokens(message.replace(/<[^>]+>/g, ' '));
  const tokens = await step('Bot: search tokens for the message (ClientTokenizer_v2)',
    async () => hashedTokens(words, contentKey, threadRotation), (list) => list.length === words.length);
  out(`  ${words.length} words → ${tokens.length} tokens, e.g. ${words[0]} → ${tokens[0]}`);
  out(`  account key id ${toBase64(accountKey.keyId).slice(0, 16)}…; keys are wiped now`);
  for (const k of [kmAccountKey, accountKey, contentKey, entityKey]) k.wipe();

  const failed = steps.filter((s) => !s.ok);
  const totalMs = steps.reduce((sum, s) => sum + s.ms, 0);
  out('');
  out(`Summary: ${steps.length - failed.length}/${steps.length} steps succeeded in ${totalMs.toFixed(1)} ms`);
  for (const s of steps) out(`  ${s.ms.toFixed(2).padStart(8)} ms  ${s.name}`);
  return failed.length === 0;
}
