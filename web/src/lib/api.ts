/**
 * The one way the app talks to Protocam: JSON over /api with the session cookie and, on every
 * state-changing request, the session's CSRF token (header x-csrf-token). Errors arrive as
 * `{"error": {"code", "message", "details"}}` and become an ApiError with that code.
 */

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
  }
}

let csrfToken: string | null = null;
export const setCsrfToken = (token: string | null): void => {
  csrfToken = token;
};

/** Codes that mean the session is gone; the app then returns to the sign-in screen. */
export const SESSION_ENDED_CODES = ['session-expired', 'not-signed-in', 'account-disabled'];
export const SESSION_ENDED_EVENT = 'protocam:session-ended';

interface RequestOptions {
  headers?: Record<string, string>;
  /** Auth routes handle a 401 themselves instead of ending the session. */
  quiet401?: boolean;
}

export async function api<T>(
  method: 'GET' | 'POST' | 'PATCH' | 'DELETE',
  path: string,
  body?: unknown,
  options: RequestOptions = {},
): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json', ...(options.headers ?? {}) };
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (method !== 'GET' && csrfToken) headers['x-csrf-token'] = csrfToken;
  let response: Response;
  try {
    response = await fetch(`/api${path}`, {
      method,
      headers,
      credentials: 'same-origin',
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
  } catch {
    throw new ApiError(0, 'network-error', 'Protocam is not reachable');
  }
  const text = await response.text();
  const data: unknown = text ? safeJson(text) : null;
  if (!response.ok) {
    const error = (data as { error?: { code?: string; message?: string; details?: unknown } } | null)?.error;
    const apiError = new ApiError(
      response.status,
      error?.code ?? `http-${response.status}`,
      error?.message ?? response.statusText,
      error?.details,
    );
    if (response.status === 401 && !options.quiet401 && SESSION_ENDED_CODES.includes(apiError.code)) {
      window.dispatchEvent(new CustomEvent(SESSION_ENDED_EVENT, { detail: apiError.code }));
    }
    throw apiError;
  }
  return data as T;
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return null;
  }
}

/** A query string from defined, non-empty values. */
export function query(params: Record<string, string | number | undefined | null>): string {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== '') search.set(key, String(value));
  }
  const text = search.toString();
  return text ? `?${text}` : '';
}

/**
 * A file body sent with upload progress (fetch cannot report it, XMLHttpRequest can). `onProgress`
 * gets the sent fraction 0..1; errors become an ApiError like those of `api`.
 */
export function upload<T>(
  path: string,
  body: Blob,
  contentType: string,
  onProgress: (fraction: number) => void,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const request = new XMLHttpRequest();
    request.open('POST', `/api${path}`);
    request.withCredentials = true;
    request.setRequestHeader('accept', 'application/json');
    request.setRequestHeader('content-type', contentType);
    if (csrfToken) request.setRequestHeader('x-csrf-token', csrfToken);
    request.upload.onprogress = (event) => {
      if (event.lengthComputable && event.total > 0) onProgress(event.loaded / event.total);
    };
    request.upload.onload = () => onProgress(1);
    request.onerror = () => reject(new ApiError(0, 'network-error', 'Protocam is not reachable'));
    request.onload = () => {
      const data: unknown = request.responseText ? safeJson(request.responseText) : null;
      if (request.status >= 200 && request.status < 300) {
        resolve(data as T);
        return;
      }
      const error = (data as { error?: { code?: string; message?: string; details?: unknown } } | null)?.error;
      const apiError = new ApiError(
        request.status,
        error?.code ?? `http-${request.status}`,
        error?.message ?? request.statusText,
        error?.details,
      );
      if (request.status === 401 && SESSION_ENDED_CODES.includes(apiError.code)) {
        window.dispatchEvent(new CustomEvent(SESSION_ENDED_EVENT, { detail: apiError.code }));
      }
      reject(apiError);
    };
    request.send(body);
  });
}
