// Passwords in URLs (scheme://user:password@host) never reach a log line or a printout: every such
// password is replaced by "***". Used by the logger's output stream, the CLI's error lines and
// `config`, and the payload download's messages.

const URL_PASSWORD = /\b([a-z][a-z0-9+.-]*:\/\/[^/@:\s"'<>]*):[^/@\s"'<>]*@/gi;

/** The text with the password of every URL in it replaced by "***". */
export function redactUrlPasswords(text: string): string {
  return text.replace(URL_PASSWORD, '$1:***@');
}

/** A stream wrapper for the logger: each write is redacted before it goes on. */
export function redactingStream<T extends { write(chunk: string): unknown }>(stream: T): { write(chunk: string): unknown } {
  return { write: (chunk: string) => stream.write(redactUrlPasswords(String(chunk))) };
}
