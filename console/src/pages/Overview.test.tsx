import { render, screen } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { beforeEach, describe, expect, it } from "vitest";
import { App } from "../App";
import type { Health, Overview } from "../api";
import { fakeService } from "../test/service";

const HEALTH: Health = { status: "ok", model_version: "abc123", products: 40, users: 200, cache: "ok" };

const FIGURES: Overview = {
  requests: [
    { route: "/recommend/user/<path:user_id>", requests: 10, client_errors: 2, server_errors: 1, p50_ms: 1.2, p99_ms: 4 },
    { route: "/health", requests: 3, client_errors: 0, server_errors: 0, p50_ms: 0.5, p99_ms: 0.9 },
  ],
  cache: { enabled: true, hits: 5, misses: 3, hit_ratio: 0.625 },
  latency: {
    buckets: [
      { up_to_ms: 1, requests: 4 },
      { up_to_ms: 2.5, requests: 6 },
      { up_to_ms: null, requests: 0 },
    ],
    p50_ms: 1.2,
    p99_ms: 4,
  },
  events: {
    until: "2025-07-07T10:00:00",
    hours: ["2025-07-07T09:00:00", "2025-07-07T10:00:00"],
    counts: { purchase: [1, 0], view: [4, 2] },
    feedback: "ok",
  },
  build: {
    model_version: "abc123",
    at: "2025-07-07T11:00:00Z",
    seconds: 42.5,
    interactions: 82639,
    from: "csv files",
    default_strategy: "ranked",
    why: "the ranker (lambdarank) beat the untrained blend",
    check: { objective: "lambdarank", ranker_ndcg: 0.2311, blend_ndcg: 0.2205, windows: ["2025-06-01"] },
  },
};

describe("the overview", () => {
  beforeEach(() => history.pushState({}, "", "/console"));

  it("draws the service's figures: the build and its check, events, requests, cache and latency", async () => {
    sessionStorage.setItem("adminToken", "secret");
    fakeService({ "/health": () => ({ body: HEALTH }), "/stats": () => ({ body: FIGURES }) });
    const { container } = render(<App />);

    expect(await screen.findByText("ranked")).toHaveAttribute("id", "default-strategy");
    expect(screen.getByText(/in 42.5 s from csv files, 82639 interactions/)).toBeInTheDocument();
    expect(container.querySelector("#check-chart")?.textContent).toContain("0.2311");
    expect(container.querySelectorAll("#events-chart .recharts-bar-rectangle")).toHaveLength(3); // non-zero stacks
    expect(container.querySelectorAll("#requests-chart .recharts-bar-rectangle")).toHaveLength(4);
    expect(screen.getByText("62.5%")).toBeInTheDocument();
    expect(container.querySelectorAll("#cache-chart .recharts-pie-sector")).toHaveLength(2);
    expect(container.querySelectorAll("#latency-chart .recharts-bar-rectangle")).toHaveLength(2);
    expect(screen.getByText("Model version").nextSibling).toHaveTextContent("abc123");
  });

  it("asks for the admin token for the figures, and rebuilds with it", async () => {
    const asked = fakeService({
      "/health": () => ({ body: HEALTH }),
      "/stats": (_, init) =>
        new Headers(init.headers).get("Authorization") === "Bearer secret"
          ? { body: FIGURES }
          : { status: 401, body: { error: { code: 401, message: "admin token needed" } } },
      "/admin/reload": () => ({ status: 202, body: { status: "started" } }),
    });
    render(<App />);
    await userEvent.type(await screen.findByPlaceholderText("admin token"), "secret");
    await userEvent.click(screen.getByText("Use token"));
    expect(await screen.findByText("62.5%")).toBeInTheDocument();

    await userEvent.click(screen.getByText("Rebuild"));
    expect(await screen.findByText("Reload started.")).toBeInTheDocument();
    const reload = asked.find((a) => a.url.pathname === "/admin/reload")!;
    expect(reload.init.method).toBe("POST");
    expect(new Headers(reload.init.headers).get("Authorization")).toBe("Bearer secret");
  });
});
