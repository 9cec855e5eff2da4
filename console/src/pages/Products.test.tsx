import { render, screen } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it } from "vitest";
import { App } from "../App";
import { fakeService, product } from "../test/service";

describe("the products page", () => {
  it("finds products by title and opens one with its similar products, at its own address", async () => {
    history.pushState({}, "", "/console/products");
    fakeService({
      "/products/P1": () => ({ body: { product_id: "P1", title: "Garden rake", category: "Garden", price: 12, available: false } }),
      "/products": (url) => ({ body: { results: [{ ...product("P1", `Garden rake`), q: url.searchParams.get("q") }] } }),
      "/recommend/content/P1": () => ({ body: { results: [product("P7", "Garden hoe")] } }),
    });
    render(<App />);
    await userEvent.type(screen.getByPlaceholderText("search titles"), "rake{Enter}");
    await userEvent.click(await screen.findByRole("link", { name: "Garden rake" }));

    expect(location.pathname).toBe("/console/products/P1");
    expect(await screen.findByRole("heading", { name: "Garden rake" })).toBeInTheDocument();
    expect(screen.getByText("Garden hoe")).toBeInTheDocument();
    expect(screen.getByText("Withdrawn: no answer shows it.")).toBeInTheDocument();
  });

  it("says what the service answered when a search is refused", async () => {
    history.pushState({}, "", "/console/products");
    fakeService({ "/products": () => ({ status: 400, body: { error: { code: 400, message: "q: at most 10 words" } } }) });
    render(<App />);
    await userEvent.type(screen.getByPlaceholderText("search titles"), "a b c d e f g h i j k{Enter}");
    expect(await screen.findByText("The service answered: q: at most 10 words")).toBeInTheDocument();
  });
});
