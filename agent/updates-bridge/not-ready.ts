/**
 * The HTTP answer of the gateway's updates service when it cannot forward a request: 503,
 * the reason in the body for a person (apt prints it) and in a header for the templates'
 * check, which retries on it instead of judging the proxy.
 */
export function notReadyResponse(reason: string, header: string): string {
  return response(reason, header)
}

/** A 503 for a failure that trying again will not mend: the reason in the body, no not-ready header. */
export function failedResponse(reason: string): string {
  return response(reason, null)
}

function response(reason: string, header: string | null): string {
  // The reason may quote Tor; keep it to one printable line.
  const line = reason.replace(/[^\x20-\x7e]/g, '?').slice(0, 300)
  const body = `${line}\nThe Whonix-Gateway's updates proxy did not forward this request.${header === null ? '' : ' Try again later.'}\n`
  return [
    'HTTP/1.1 503 Service Unavailable',
    'Content-Type: text/plain; charset=utf-8',
    `Content-Length: ${Buffer.byteLength(body)}`,
    'Connection: close',
    ...(header === null ? [] : ['Retry-After: 10', `${header}: ${line}`]),
    '',
    body,
  ].join('\r\n')
}
