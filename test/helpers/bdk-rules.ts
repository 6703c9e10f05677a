// What Symphony's Java and Python BDKs do with a config.yaml document, as assertions (there is no JVM or Python BDK
// here): the rules of docs/config.md "What loads everywhere", each read from the BDKs' sources cited there, and the
// URLs the BDKs build from the document (docs/config.md "Where each component lives").

type Dict = Record<string, unknown>;
const isDict = (v: unknown): v is Dict => typeof v === 'object' && v !== null && !Array.isArray(v);
const COMPONENTS = ['pod', 'agent', 'keyManager', 'sessionAuth'] as const;

/** Why the Java or the Python BDK would not load `doc`, or would load it into something else than it says; [] if none. */
export function bdkProblems(doc: unknown): string[] {
  const problems: string[] = [];
  if (!isDict(doc)) return ['the document is not a mapping (both BDKs)'];
  const keysWithin = (key: string, value: unknown, allowed: string[], who: string) => {
    if (value === undefined) return;
    if (!isDict(value)) problems.push(`${key} is not a mapping (${who})`);
    else for (const k of Object.keys(value)) if (!allowed.includes(k)) problems.push(`${key}.${k}: not a parameter of ${who}`);
  };
  for (const [key, section] of [['', doc], ...COMPONENTS.map((c) => [c, doc[c]] as const)] as Array<[string, unknown]>) {
    if (!isDict(section) || section.proxy === undefined) continue;
    const proxyKey = key === '' ? 'proxy' : `${key}.proxy`;
    keysWithin(proxyKey, section.proxy, ['host', 'port', 'username', 'password'], 'Python BdkProxyConfig(host, port, username, password)');
    if (isDict(section.proxy) && (section.proxy.host === undefined || section.proxy.port === undefined)) problems.push(`${proxyKey}: host and port are required (Python BdkProxyConfig)`);
  }
  for (const identity of ['bot', 'app'] as const) {
    const section = doc[identity];
    if (section === undefined) continue;
    if (!isDict(section)) {
      problems.push(`${identity} is not a mapping`);
      continue;
    }
    keysWithin(`${identity}.privateKey`, section.privateKey, ['path', 'content'], 'Python BdkRsaKeyConfig(path, content)');
    keysWithin(`${identity}.certificate`, section.certificate, ['path'], 'Python BdkCertificateConfig(path)');
    const key = isDict(section.privateKey) ? section.privateKey : {};
    const cert = isDict(section.certificate) ? section.certificate : {};
    if (key.path !== undefined && key.content !== undefined) problems.push(`${identity}.privateKey: both path and content (Java AuthenticatorFactoryImpl refuses)`);
    const hasCert = cert.path !== undefined || cert.content !== undefined;
    if (hasCert && cert.password === undefined) problems.push(`${identity}.certificate without password: the Java BDK treats the certificate as not configured`);
    if ((key.path !== undefined || key.content !== undefined) && hasCert) problems.push(`${identity}: both privateKey and certificate (Java AuthenticatorFactoryImpl refuses)`);
  }
  if (doc.ssl !== undefined) {
    const store = isDict(doc.ssl) ? doc.ssl.trustStore : undefined;
    if (store !== undefined) {
      keysWithin('ssl.trustStore', store, ['path'], 'both BDKs at once (Python reads a PEM path; Java, given a password, loads the file as a JKS)');
    }
  }
  if (doc.datafeed !== undefined && (!isDict(doc.datafeed) || typeof doc.datafeed.version !== 'string')) {
    problems.push('datafeed without version: the Python BDK calls version.lower() on None (service_factory.py)');
  }
  for (const key of ['retry', 'datafeed.retry']) {
    const section = key === 'retry' ? doc.retry : isDict(doc.datafeed) ? doc.datafeed.retry : undefined;
    if (isDict(section)) for (const [k, v] of Object.entries(section)) if (typeof v !== 'number') problems.push(`${key}.${k} is not a number (Python BdkRetryConfig compares it)`);
  }
  return problems;
}

/** The base URL of a BDK client section: BdkServerConfig.getBasePath with the parent's fields as fallback. */
function basePath(doc: Dict, component: (typeof COMPONENTS)[number]): string {
  const own = isDict(doc[component]) ? (doc[component] as Dict) : {};
  const field = (name: string, fallback: unknown) => own[name] ?? doc[name] ?? fallback;
  const context = String(field('context', ''));
  // BdkServerConfig.getFormattedContext: add a leading slash, or else drop one trailing slash.
  const formatted = context !== '' && !context.startsWith('/') ? `/${context}` : context.endsWith('/') ? context.slice(0, -1) : context;
  return `${String(field('scheme', 'https'))}://${String(field('host', undefined))}:${String(field('port', 443))}${formatted}`;
}

/** The URLs the BDKs call (ApiClientFactory in both): login and pod on the pod, relay and keyauth on the Key Manager. */
export function bdkUrls(doc: Dict): { login: string; pod: string; relay: string; keyauth: string; sessionauth: string; agent: string } {
  return {
    login: `${basePath(doc, 'pod')}/login`,
    pod: `${basePath(doc, 'pod')}/pod`,
    relay: `${basePath(doc, 'keyManager')}/relay`,
    keyauth: `${basePath(doc, 'keyManager')}/keyauth`,
    sessionauth: `${basePath(doc, 'sessionAuth')}/sessionauth`,
    agent: `${basePath(doc, 'agent')}/agent`,
  };
}
