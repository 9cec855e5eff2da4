// Charts, drawn by Recharts (SVG): what the browser tests and the reader see are the same elements.
import { CartesianGrid, ErrorBar, LabelList, Scatter, ScatterChart, XAxis, YAxis } from "recharts";
import type { Variant } from "./api";

/** The Wilson 95% interval of a rate seen in n trials. */
export function wilson(rate: number, n: number): [number, number] {
  if (!n) return [0, 0];
  const z = 1.96;
  const z2 = z * z;
  const centre = (rate + z2 / (2 * n)) / (1 + z2 / n);
  const half = (z * Math.sqrt((rate * (1 - rate)) / n + z2 / (4 * n * n))) / (1 + z2 / n);
  return [Math.max(0, centre - half), Math.min(1, centre + half)];
}

const percent = (v: number) => `${(v * 100).toFixed(1)}%`;

/** Each variant's click rate (the share of its exposed users who clicked): a dot, with its 95% interval. */
export function RateChart({ variants }: { variants: [string, Variant][] }) {
  const data = variants.map(([name, v]) => {
    const rate = v.click_rate ?? 0;
    const [low, high] = wilson(rate, v.users);
    return { name, rate, interval: [rate - low, high - rate], label: percent(rate) };
  });
  return (
    <div id="rate-chart">
      <ScatterChart width={560} height={44 * data.length + 50} margin={{ left: 20, right: 60, top: 10 }}>
        <CartesianGrid horizontal={false} strokeDasharray="3 3" />
        <XAxis type="number" dataKey="rate" domain={[0, "auto"]} tickFormatter={percent} />
        <YAxis type="category" dataKey="name" width={110} allowDuplicatedCategory={false} reversed />
        <Scatter data={data} fill="#2f6fdf" isAnimationActive={false}>
          <ErrorBar dataKey="interval" direction="x" width={6} stroke="#667085" isAnimationActive={false} />
          <LabelList dataKey="label" position="top" />
        </Scatter>
      </ScatterChart>
    </div>
  );
}
