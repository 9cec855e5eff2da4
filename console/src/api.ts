// The service's routes as the console calls them. Their types come from /openapi.json
// (src/openapi.d.ts, made by `make console`): a changed route breaks the type check here.
import type { components } from "./openapi";

type Schemas = components["schemas"];
export type Health = Schemas["Health"];
export type Recommendations = Schemas["Recommendations"];
export type Result = Recommendations["results"][number];
export type ProductList = Schemas["ProductList"];
/** A product in a list: a recommendation (with details=1) or a search result. */
export type Listed = Result | ProductList["results"][number];
export type Product = Schemas["Product"];
export type User = Schemas["User"];
export type ABReport = Schemas["ABReport"];
export type Variant = ABReport["variants"][string];
export type Reload = Schemas["Reload"];
export type Overview = Schemas["Overview"];
export type ErrorBody = Schemas["Error"];

/** A refusal or failure of the service, with its status and its own message. */
export class ServiceError extends Error {
  constructor(
    message: string,
    readonly status: number,
  ) {
    super(message);
  }
}

export async function getJSON<T>(url: string, options: RequestInit = {}): Promise<T> {
  const response = await fetch(url, options);
  const body: unknown = await response.json().catch(() => null);
  if (!response.ok) {
    const message = (body as ErrorBody | null)?.error?.message ?? response.statusText;
    throw new ServiceError(message, response.status);
  }
  return body as T;
}

/** The admin token, kept for this browser tab only. */
export function token(): string {
  return sessionStorage.getItem("adminToken") ?? "";
}

export function setToken(value: string): void {
  sessionStorage.setItem("adminToken", value);
}

export function asAdmin(options: RequestInit = {}): RequestInit {
  return { ...options, headers: { ...options.headers, Authorization: `Bearer ${token()}` } };
}

export const STRATEGIES = ["content", "collaborative", "hybrid", "popularity", "ranked"] as const;
