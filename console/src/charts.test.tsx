import { render } from "@testing-library/react";
import { describe, expect, it } from "vitest";
import type { Variant } from "./api";
import { RateChart, wilson } from "./charts";

describe("wilson", () => {
  it("gives the 95% interval of a rate", () => {
    const [low, high] = wilson(0.5, 100);
    expect(low).toBeCloseTo(0.4038, 3);
    expect(high).toBeCloseTo(0.5962, 3);
  });

  it("is empty without trials and never leaves [0, 1]", () => {
    expect(wilson(0, 0)).toEqual([0, 0]);
    const [low, high] = wilson(1, 3);
    expect(low).toBeGreaterThan(0);
    expect(high).toBe(1);
  });
});

describe("RateChart", () => {
  it("draws a dot and an interval per variant, labelled with its rate", () => {
    const variant = (users: number, rate: number) => ({ users, click_rate: rate }) as Variant;
    const { container } = render(
      <RateChart
        variants={[
          ["content", variant(200, 0.1)],
          ["hybrid", variant(180, 0.125)],
        ]}
      />,
    );
    expect(container.querySelectorAll(".recharts-scatter-symbol")).toHaveLength(2);
    expect(container.querySelectorAll(".recharts-errorBar")).toHaveLength(2);
    expect(container.textContent).toContain("10.0%");
    expect(container.textContent).toContain("12.5%");
  });
});
