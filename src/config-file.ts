/**
 * Writing a client configuration: BDK `config.yaml` (docs/config.md) for given component URLs and identity files, in
 * the subset that allegro-ts and Symphony's Java and Python BDKs all load unchanged (docs/config.md "What loads
 * everywhere"): each URL becomes `scheme`/`host`/`port`/`context` with the component's own path (`/relay`, …) left to
 * the reader, the bot logs in with its RSA key (a certificate only when it has no key: the Java BDK needs the PKCS#12
 * password the Python BDK refuses), and the trust store is a PEM path without a password. The sandbox writes its
 * `config.yaml` and `config.json` with it.
 */
import type { AllegroConfigInput, ComponentConfig } from './config.js';
import { InvalidArgumentError } from './errors.js';
import { describeValue } from './util/validate.js';
import { toYamlText } from './util/yaml.js';

/** Where the components are: their base URLs, each with the component's own path (as the sandbox prints them). */
export interface ConfigEndpoints {
  /** The pod, e.g. `https://pod.example.com:443`. */
  podUrl: string;
  /** Ends with `/relay`. */
  keyManagerUrl: string;
  /** Ends with `/sessionauth`. */
  sessionAuthUrl: string;
  /** Ends with `/agent`. */
  agentUrl: string;
  /** Ends with `/keyauth`; default: on the Key Manager. */
  keyAuthUrl?: string;
  /** Where `/object/...` is; default: the pod. */
  objectStoreUrl?: string;
}

/** Who logs in, by the files that hold its credentials. */
export interface ConfigIdentity {
  username: string;
  /** PEM private key for the RSA login (preferred). */
  privateKeyPath?: string;
  /** PKCS#12 client certificate, used when there is no private key. */
  pkcs12Path?: string;
  pkcs12Password?: string;
}

/** An OBO app, by its id and the file of its RSA private key (docs/config.md "Who logs in: `bot` and `app`"). */
export interface ConfigApp {
  appId: string;
  privateKeyPath: string;
}

type Place = Required<Pick<ComponentConfig, 'scheme' | 'host' | 'port' | 'context'>>;

/** A base URL as the BDK's fields: the path before `own` is the context. */
function placeOf(parameter: string, url: string, own: string): Place {
  let parsed: URL | undefined;
  try {
    parsed = new URL(url);
  } catch {
    parsed = undefined;
  }
  const path = parsed?.pathname.replace(/\/+$/, '') ?? '';
  const scheme = parsed?.protocol.slice(0, -1);
  if (parsed === undefined || (scheme !== 'https' && scheme !== 'http') || parsed.search !== '' || parsed.hash !== '' || parsed.username !== '' || !path.endsWith(own)) {
    const received = typeof url !== 'string' ? describeValue(url) : parsed !== undefined && parsed.username !== '' ? 'a URL with credentials' : `"${url}"`;
    throw new InvalidArgumentError(parameter, `an http(s) URL${own === '' ? '' : ` ending with ${own}`}, without query or credentials`, received);
  }
  return { scheme, host: parsed.hostname, port: parsed.port === '' ? (scheme === 'https' ? 443 : 80) : Number(parsed.port), context: path.slice(0, path.length - own.length) };
}

/** The fields of `place` that differ from `inherited` (a BDK section overrides field by field). */
function override(place: Place, inherited: Place): ComponentConfig | undefined {
  const fields = (Object.keys(place) as Array<keyof Place>).filter((f) => place[f] !== inherited[f]);
  return fields.length === 0 ? undefined : Object.fromEntries(fields.map((f) => [f, place[f]])) as ComponentConfig;
}

/**
 * The client configuration for `identity` at `endpoints`, as BDK `config.yaml` data: top-level `scheme`, `host`,
 * `port` (and `context`) from the pod, a component section only where a component lives elsewhere, `bot`, `app` (an
 * OBO app, with `options.app`), and `ssl.trustStore.path`. Without an identity there is no `bot` section; an identity without files gets only its
 * username.
 * @throws InvalidArgumentError (`INVALID_ARGUMENT`) for a URL that is not http(s) or lacks the component's own path.
 */
export function clientConfigFor(endpoints: ConfigEndpoints, identity?: ConfigIdentity, options: { trustStorePath?: string; app?: ConfigApp } = {}): AllegroConfigInput {
  const pod = placeOf('endpoints.podUrl', endpoints.podUrl, '');
  const keyManager = placeOf('endpoints.keyManagerUrl', endpoints.keyManagerUrl, '/relay');
  const sections: Array<[string, ComponentConfig | undefined]> = [
    ['keyManager', override(keyManager, pod)],
    ['sessionAuth', override(placeOf('endpoints.sessionAuthUrl', endpoints.sessionAuthUrl, '/sessionauth'), pod)],
    ['agent', override(placeOf('endpoints.agentUrl', endpoints.agentUrl, '/agent'), pod)],
  ];
  const allegro: Array<[string, ComponentConfig | undefined]> = [
    ['keyAuth', endpoints.keyAuthUrl === undefined ? undefined : override(placeOf('endpoints.keyAuthUrl', endpoints.keyAuthUrl, '/keyauth'), keyManager)],
    ['objectStore', endpoints.objectStoreUrl === undefined ? undefined : override(placeOf('endpoints.objectStoreUrl', endpoints.objectStoreUrl, ''), pod)],
  ];
  const present = (list: Array<[string, ComponentConfig | undefined]>) => Object.fromEntries(list.filter(([, s]) => s !== undefined));
  let bot: AllegroConfigInput['bot'];
  if (identity !== undefined) {
    bot = { username: identity.username };
    if (identity.privateKeyPath !== undefined) bot.privateKey = { path: identity.privateKeyPath };
    else if (identity.pkcs12Path !== undefined) bot.certificate = { path: identity.pkcs12Path, password: identity.pkcs12Password ?? '' };
  }
  const extra = present(allegro);
  return {
    scheme: pod.scheme, host: pod.host, port: pod.port, ...(pod.context === '' ? {} : { context: pod.context }),
    ...present(sections),
    ...(bot === undefined ? {} : { bot }),
    ...(options.app === undefined ? {} : { app: { appId: options.app.appId, privateKey: { path: options.app.privateKeyPath } } }),
    ...(options.trustStorePath === undefined ? {} : { ssl: { trustStore: { path: options.trustStorePath } } }),
    ...(Object.keys(extra).length === 0 ? {} : { allegro: extra }),
  };
}

/** `config` as the text of a `config.yaml` (YAML 1.1, which both BDKs read), with a comment saying what it is. */
export function toConfigYaml(config: AllegroConfigInput): string {
  return toYamlText(config, [
    'Symphony client configuration (BDK config.yaml; keys: docs/config.md in allegro-ts).',
    'Loads unchanged in allegro-ts and in the Java and Python BDKs. The Java BDK reads ssl.trustStore only as a',
    'JKS or PKCS#12 store with a password: there, trust the CA of ssl.trustStore.path in the JVM instead.',
  ].join('\n'));
}
