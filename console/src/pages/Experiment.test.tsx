import { render, screen } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it } from "vitest";
import { App } from "../App";
import type { ABReport } from "../api";
import { fakeService } from "../test/service";

const REPORT: ABReport = {
  experiment: "3b96f241",
  control: "content",
  since: "2025-07-01T10:00:00Z",
  sample_ratio: { p_value: 0.8, mismatch: false },
  warnings: ["fewer than 1,000 users per variant: wait before reading the lift"],
  variants: {
    content: { users: 200, exposures: 400, clicks: 30, conversions: 4, ctr: 0.075, click_rate: 0.1, p_value: null },
    hybrid: { users: 180, exposures: 360, clicks: 36, conversions: 5, ctr: 0.1, click_rate: 0.125, p_value: 0.4321, lift: 0.25 },
  },
};

describe("the experiment page", () => {
  it("asks for the token, then shows each variant's figures, the warnings and the rate chart", async () => {
    history.pushState({}, "", "/console/experiment");
    fakeService({
      "/ab/report": (_, init) =>
        new Headers(init.headers).get("Authorization") === "Bearer secret"
          ? { body: REPORT }
          : { status: 401, body: { error: { code: 401, message: "admin token needed" } } },
    });
    const { container } = render(<App />);
    await userEvent.type(await screen.findByPlaceholderText("admin token"), "secret");
    await userEvent.click(screen.getByText("Use token"));

    expect(await screen.findByText("content (control)")).toBeInTheDocument();
    const hybrid = screen.getByText("hybrid", { selector: "td" }).closest("tr")!;
    expect([...hybrid.querySelectorAll("td")].map((td) => td.textContent)).toEqual(
      ["hybrid", "180", "360", "36", "0.1000", "0.1250", "5", "–", "0.2500", "0.4321"],
    );
    expect(screen.getByText(/fewer than 1,000 users per variant/)).toHaveClass("warning");
    expect(container.querySelectorAll("#rate-chart .recharts-scatter-symbol")).toHaveLength(2);
    expect(container.querySelector("#rate-chart")?.textContent).toContain("12.5%");
  });
});
