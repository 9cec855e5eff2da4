import { fireEvent, render, screen, waitFor } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { beforeEach, describe, expect, it } from "vitest";
import { App } from "../App";
import { fakeService, product } from "../test/service";

const HISTORY = {
  user_id: "U1",
  variant: "hybrid",
  items: 2,
  events: [{ product_id: "P1", title: "Rake", action: "purchase", ts: "2025-06-01T10:00:00", source: "log" }],
};

describe("the user page", () => {
  beforeEach(() => history.pushState({}, "", "/console/users/U1"));

  it("asks for the token, then shows the history, each strategy and the blend", async () => {
    const asked = fakeService({
      "/users/": (_, init) =>
        new Headers(init.headers).get("Authorization") === "Bearer secret"
          ? { body: HISTORY }
          : { status: 401, body: { error: { code: 401, message: "admin token needed" } } },
      "/recommend/user/": (url) => ({ body: { results: [product("P2", `by ${url.searchParams.get("strategy")}`)] } }),
      "/recommend/hybrid": (url) => ({ body: { results: [product("P3", `w ${url.searchParams.get("w_content")}`)] } }),
    });
    render(<App />);
    await userEvent.type(await screen.findByPlaceholderText("admin token"), "secret");
    await userEvent.click(screen.getByText("Use token"));

    expect(await screen.findByText("Rake")).toBeInTheDocument();
    expect(screen.getByText("hybrid", { selector: "#variant" })).toBeInTheDocument();
    const strategies = [...document.querySelectorAll("#strategies section")].map((s) => s.getAttribute("data-strategy"));
    expect(strategies).toEqual(["content", "collaborative", "hybrid", "popularity", "ranked"]);
    expect(await screen.findByText("w 0.5")).toBeInTheDocument();
    await waitFor(() => expect(document.body.dataset.ready).toBe("/console/users/U1"));
    expect(asked.filter((a) => a.url.pathname === "/users/U1")).toHaveLength(2); // refused, then with the token
  });

  it("asks for the blend again as the slider moves, and shows the latest answer", async () => {
    sessionStorage.setItem("adminToken", "secret");
    const asked = fakeService({
      "/users/": () => ({ body: HISTORY }),
      "/recommend/user/": () => ({ body: { results: [] } }),
      "/recommend/hybrid": (url) => ({ body: { results: [product("P3", `w ${url.searchParams.get("w_content")}`)] } }),
    });
    render(<App />);
    fireEvent.change(await screen.findByRole("slider"), { target: { value: "1" } }); // jsdom has no slider keys
    expect(await screen.findByText("w 1")).toBeInTheDocument();
    expect(screen.getByText("w_content 1.0 · w_cf 0.0")).toBeInTheDocument();
    const blends = asked.filter((a) => a.url.pathname === "/recommend/hybrid");
    expect(blends.at(-1)!.url.searchParams.get("w_cf")).toBe("0.00");
  });

  it("says what the service answered for an unknown user", async () => {
    sessionStorage.setItem("adminToken", "secret");
    fakeService({ "/users/": () => ({ status: 404, body: { error: { code: 404, message: "no user U1" } } }) });
    render(<App />);
    expect(await screen.findByText("The service answered: no user U1")).toBeInTheDocument();
  });
});
