/**
 * @module The one place the SDK talks HTTP: the registry's base URL and bearer token, JSON in and out, and
 * every failure turned into a RemoteError with the server's code.
 */
import { errorFrom, RemoteError, unreachable } from "./errors.js";

export const API_PREFIX = "/api/v1";

export type Query = Record<string, string | number | undefined>;

export interface RequestOptions {
  query?: Query;
  /** A JSON body (serialised here) or raw bytes. */
  json?: unknown;
  /** Raw bytes, or a stream of them (sent as it is read: large uploads need not be joined in memory). */
  body?: Uint8Array | ReadableStream<Uint8Array>;
  headers?: Record<string, string>;
  signal?: AbortSignal;
}

/** Path segments are user text (names, versions, refs): each is percent-encoded. */
export const segment = (text: string): string => encodeURIComponent(text);

export class Http {
  readonly base: string;
  private readonly token: string | undefined;

  constructor(url: string, token?: string) {
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw new RemoteError(0, "INVALID", `invalid registry URL ${JSON.stringify(url)}`, {
        hint: "give the server's address, such as http://127.0.0.1:7700",
      });
    }
    if (parsed.protocol !== "http:" && parsed.protocol !== "https:") {
      throw new RemoteError(0, "INVALID", `invalid registry URL ${url}: use http:// or https://`);
    }
    this.base = parsed.href.replace(/\/+$/, "");
    this.token = token === "" ? undefined : token;
  }

  url(path: string, query?: Query): string {
    const search = new URLSearchParams();
    for (const [key, value] of Object.entries(query ?? {}))
      if (value !== undefined) search.set(key, String(value));
    const text = search.toString();
    return `${this.base}${API_PREFIX}${path}${text ? `?${text}` : ""}`;
  }

  /** Sends a request; any answer but 2xx (or 304) is thrown as a RemoteError. */
  async send(method: string, path: string, options: RequestOptions = {}): Promise<Response> {
    const url = this.url(path, options.query);
    const headers: Record<string, string> = { accept: "application/json", ...options.headers };
    if (this.token !== undefined) headers["authorization"] = `Bearer ${this.token}`;
    let body: string | Uint8Array | ReadableStream<Uint8Array> | undefined = options.body;
    if (options.json !== undefined) {
      headers["content-type"] = "application/json";
      body = JSON.stringify(options.json, nonFiniteAsString);
    }
    let response: Response;
    try {
      response = await fetch(url, {
        method,
        headers,
        ...(body !== undefined ? { body } : {}),
        // Node's fetch sends a stream body only when told the request goes out before the answer comes back.
        ...(body instanceof ReadableStream ? { duplex: "half" } : {}),
        ...(options.signal ? { signal: options.signal } : {}),
      });
    } catch (error) {
      if (options.signal?.aborted) throw error;
      throw unreachable(this.base, error);
    }
    if (!response.ok && response.status !== 304) throw await errorFrom(response, `${method} ${path}`);
    return response;
  }

  async json<T>(method: string, path: string, options: RequestOptions = {}): Promise<T> {
    const response = await this.send(method, path, options);
    try {
      return (await response.json()) as T;
    } catch (error) {
      throw unreachable(this.base, error);
    }
  }
}

/** JSON has no NaN or ±Infinity: metrics travel as "NaN", "Infinity", "-Infinity", as the server writes them. */
function nonFiniteAsString(_key: string, value: unknown): unknown {
  return typeof value === "number" && !Number.isFinite(value) ? String(value) : value;
}
