/**
 * Credentials in camera URLs must never reach a log line, an error message or anything else
 * Protocam writes about a process. Every message about a media process goes through here.
 */

/** `scheme://user:pass@` (or `scheme://user@`) anywhere in a text; greedy up to the last `@` of the authority. */
const URL_USERINFO = /([a-z][a-z0-9+.-]*:\/\/)[^\s/?#]*@/gi;

export const REDACTED_USERINFO = '***';

/** Removes user and password from every URL in `text`: rtsp://user:pass@host/x becomes rtsp://***@host/x. */
export function redactUrl(text: string): string {
  return text.replace(URL_USERINFO, `$1${REDACTED_USERINFO}@`);
}

/** Redacts every argument of a command line, for logs and error messages. */
export function redactArgs(args: readonly string[]): string[] {
  return args.map(redactUrl);
}

/**
 * The passwords (raw and percent-decoded) and user names found in URLs among `args`, so that
 * they can also be removed where a program prints them outside a URL. Values shorter than
 * three characters are left out: replacing them would shred ordinary text.
 */
export function secretsInArgs(args: readonly string[]): string[] {
  const secrets = new Set<string>();
  for (const arg of args) {
    for (const match of arg.matchAll(/[a-z][a-z0-9+.-]*:\/\/([^\s/?#]*)@/gi)) {
      const userinfo = match[1] ?? '';
      const colon = userinfo.indexOf(':');
      const parts = colon === -1 ? [userinfo] : [userinfo.slice(0, colon), userinfo.slice(colon + 1)];
      for (const part of parts) {
        secrets.add(part);
        try {
          secrets.add(decodeURIComponent(part));
        } catch {
          // Not valid percent-encoding: the raw form is already in the set.
        }
      }
    }
  }
  return [...secrets].filter((secret) => secret.length >= 3).sort((a, b) => b.length - a.length);
}

/** Redacts URLs, then every known secret, from a text. */
export function redactText(text: string, secrets: readonly string[] = []): string {
  let result = redactUrl(text);
  for (const secret of secrets) result = result.split(secret).join(REDACTED_USERINFO);
  return result;
}
