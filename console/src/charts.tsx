// Charts, drawn by Recharts (SVG): what the browser tests and the reader see are the same elements.
import {
  Bar,
  BarChart,
  CartesianGrid,
  Cell,
  ErrorBar,
  LabelList,
  Legend,
  Pie,
  PieChart,
  Scatter,
  ScatterChart,
  Tooltip,
  XAxis,
  YAxis,
} from "recharts";
import type { Overview, Variant } from "./api";

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

const COLOURS = ["#2f6fdf", "#e0822d", "#2e9d5b", "#b4468f", "#667085", "#c9a227"];

/** Events per hour, stacked by action. */
export function EventsChart({ hours, counts }: { hours: string[]; counts: Record<string, number[]> }) {
  const actions = Object.keys(counts);
  const data = hours.map((hour, i) => ({
    label: hour.slice(5, 13).replace("T", " ") + "h",
    ...Object.fromEntries(actions.map((action) => [action, counts[action][i]])),
  }));
  return (
    <div id="events-chart">
      <BarChart width={640} height={240} data={data} margin={{ left: 0, right: 10, top: 10 }}>
        <CartesianGrid vertical={false} strokeDasharray="3 3" />
        <XAxis dataKey="label" interval={11} fontSize={11} />
        <YAxis allowDecimals={false} fontSize={11} />
        <Tooltip />
        <Legend />
        {actions.map((action, i) => (
          <Bar key={action} dataKey={action} stackId="events" fill={COLOURS[i % COLOURS.length]} isAnimationActive={false} />
        ))}
      </BarChart>
    </div>
  );
}

/** The busiest routes: answered, refused (4xx) and failed (5xx) requests. */
export function RequestsChart({ rows }: { rows: Overview["requests"] }) {
  const data = rows.slice(0, 8).map((r) => ({
    route: r.route.replace(/<(?:[a-z]+:)?([a-z_]+)>/g, ":$1"),
    answered: r.requests - r.client_errors - r.server_errors,
    refused: r.client_errors,
    failed: r.server_errors,
  }));
  return (
    <div id="requests-chart">
      <BarChart width={640} height={32 * data.length + 60} data={data} layout="vertical" margin={{ left: 20, right: 20 }}>
        <CartesianGrid horizontal={false} strokeDasharray="3 3" />
        <XAxis type="number" allowDecimals={false} fontSize={11} />
        <YAxis type="category" dataKey="route" width={230} fontSize={11} />
        <Tooltip />
        <Legend />
        <Bar dataKey="answered" stackId="r" fill={COLOURS[0]} isAnimationActive={false} />
        <Bar dataKey="refused" stackId="r" fill={COLOURS[1]} isAnimationActive={false} />
        <Bar dataKey="failed" stackId="r" fill="#b42318" isAnimationActive={false} />
      </BarChart>
    </div>
  );
}

/** Cache lookups of the recommendation routes: hits against misses. */
export function CacheChart({ hits, misses }: { hits: number; misses: number }) {
  const data = [
    { name: "hits", value: hits },
    { name: "misses", value: misses },
  ];
  return (
    <div id="cache-chart">
      <PieChart width={260} height={180}>
        <Pie data={data} dataKey="value" nameKey="name" innerRadius={40} outerRadius={70} isAnimationActive={false}>
          <Cell fill={COLOURS[2]} />
          <Cell fill="#cfd6e4" />
        </Pie>
        <Tooltip />
        <Legend />
      </PieChart>
    </div>
  );
}

/** How many recommendation requests took up to each bound. */
export function LatencyChart({ buckets }: { buckets: Overview["latency"]["buckets"] }) {
  let previous = "0";
  const data = buckets.map((b) => {
    const label = b.up_to_ms == null ? `> ${previous} ms` : `≤ ${b.up_to_ms} ms`;
    previous = String(b.up_to_ms);
    return { label, requests: b.requests };
  });
  return (
    <div id="latency-chart">
      <BarChart width={640} height={220} data={data} margin={{ left: 0, right: 10, top: 10 }}>
        <CartesianGrid vertical={false} strokeDasharray="3 3" />
        <XAxis dataKey="label" fontSize={10} interval={0} angle={-30} textAnchor="end" height={50} />
        <YAxis allowDecimals={false} fontSize={11} />
        <Tooltip />
        <Bar dataKey="requests" fill={COLOURS[0]} isAnimationActive={false} />
      </BarChart>
    </div>
  );
}

/** The check the build made: the ranker against the untrained blend on the held-out window. */
export function BuildCheck({ check }: { check: NonNullable<Overview["build"]["check"]> }) {
  const data = [
    { name: `ranker (${check.objective})`, ndcg: check.ranker_ndcg ?? 0 },
    { name: "untrained blend", ndcg: check.blend_ndcg ?? 0 },
  ];
  return (
    <div id="check-chart">
      <p className="muted">NDCG@10 on the latest window held out from the ranker's training:</p>
      <BarChart width={560} height={110} data={data} layout="vertical" margin={{ left: 20, right: 60 }}>
        <XAxis type="number" domain={[0, "auto"]} fontSize={11} />
        <YAxis type="category" dataKey="name" width={150} fontSize={11} />
        <Bar dataKey="ndcg" fill={COLOURS[0]} isAnimationActive={false} barSize={16}>
          <LabelList dataKey="ndcg" position="right" formatter={(v: unknown) => Number(v).toFixed(4)} />
        </Bar>
      </BarChart>
    </div>
  );
}
