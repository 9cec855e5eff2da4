// A stand-in for the service in component tests: answers by address, and records what was asked.
import { vi } from "vitest";

type Answer = { status?: number; body: unknown };
type Route = (url: URL, init: RequestInit) => Answer;

export function fakeService(routes: Record<string, Route>) {
  const asked: { url: URL; init: RequestInit }[] = [];
  const fetch = vi.fn(async (input: string, init: RequestInit = {}) => {
    const url = new URL(input, "http://console.test");
    asked.push({ url, init });
    const route = Object.entries(routes).find(([prefix]) => url.pathname.startsWith(prefix));
    const { status = 200, body } = route ? route[1](url, init) : { status: 404, body: { error: { code: 404, message: "no route" } } };
    return new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json" } });
  });
  vi.stubGlobal("fetch", fetch);
  return asked;
}

export function product(id: string, title: string) {
  return { product_id: id, title, score: 1, category: "Garden", price: 2.5, new: false };
}
