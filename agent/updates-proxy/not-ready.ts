/**
 * The HTTP answer of the gateway's updates service when it cannot forward a request: 503,
 * the reason in the body for a person (apt prints it) and in a header for the templates'
 * check, which retries on it instead of judging the proxy.
 */
export function notReadyResponse(reason: string, header: string): string {
  // The reason may quote Tor; keep it to one printable line.
  const line = reason.replace(/[^\x20-\x7e]/g, '?').slice(0, 300)
  const body = `${line}\nThe Whonix-Gateway's updates proxy did not forward this request. Try again later.\n`
  return [
    'HTTP/1.1 503 Service Unavailable',
    'Content-Type: text/plain; charset=utf-8',
    `Content-Length: ${Buffer.byteLength(body)}`,
    'Connection: close',
    'Retry-After: 10',
    `${header}: ${line}`,
    '',
    body,
  ].join('\r\n')
}
