import { useState } from "react";
import { type Health, type Overview as Figures, ServiceError, asAdmin, getJSON } from "../api";
import { BuildCheck, CacheChart, EventsChart, LatencyChart, RequestsChart } from "../charts";
import { Failure, TokenForm } from "../components";
import { useLoad, useReady } from "../load";

export function Overview() {
  const [health] = useLoad(() => getJSON<Health>("/health"), []);
  const [figures, again] = useLoad(() => getJSON<Figures>("/stats", asAdmin()), []);
  useReady(health.state !== "loading" && figures.state !== "loading");
  return (
    <>
      <h2>Overview</h2>
      {health.state === "done" ? <HealthTable health={health.value} /> : null}
      {health.state === "failed" ? <Failure error={health.error} /> : null}
      {figures.state === "done" ? <AtAGlance figures={figures.value} /> : null}
      {figures.state === "failed" ? (
        figures.error instanceof ServiceError && figures.error.status === 401 ? (
          <TokenForm message="The figures and the rebuild need the admin token:" onToken={again} />
        ) : (
          <Failure error={figures.error} />
        )
      ) : null}
      <Rebuild />
    </>
  );
}

function HealthTable({ health: h }: { health: Health }) {
  const built = h.built ?? {};
  const rows: [string, string][] = [
    ["Model version", h.model_version],
    ["Built", built.at ? `${built.at} in ${built.seconds} s` : "unknown"],
    ["Products", String(h.products)],
    ["Users", String(h.users)],
    ["Interactions", String(built.interactions ?? "unknown")],
    ["Ranker", h.ranker?.trained ? "trained" : `not trained: ${h.ranker?.reason}`],
    ["Cache", String(h.cache)],
    ["Feedback store", String(h.feedback_store)],
    ["Reload", (h.reload?.state ?? "unknown") + (h.reload?.error ? `: ${h.reload.error}` : "")],
  ];
  return (
    <table id="health">
      <tbody>
        {rows.map(([name, value]) => (
          <tr key={name}>
            <th>{name}</th>
            <td>{value}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

const percent = (ratio: number | null) => (ratio == null ? "no lookup yet" : `${(ratio * 100).toFixed(1)}%`);

function AtAGlance({ figures }: { figures: Figures }) {
  const { build, events, cache, latency, requests } = figures;
  return (
    <div className="glance">
      <section className="panel" id="build">
        <h3>The latest build</h3>
        <p>
          {build.at ? `Built ${build.at.replace("T", " ").replace("Z", " UTC")} in ${build.seconds} s` : "Built"} from{" "}
          {build.from ?? "its inputs"}, {build.interactions ?? "?"} interactions.
        </p>
        <p>
          <code>/recommend/user</code> serves <strong id="default-strategy">{build.default_strategy}</strong>: {build.why}.
        </p>
        {build.check ? <BuildCheck check={build.check} /> : null}
      </section>
      <section className="panel" id="events">
        <h3>Events per hour by action</h3>
        <p className="muted">
          {events.until ? `The ${events.hours.length} hours up to ${events.until.replace("T", " ")} UTC (the latest event).` : "No event yet."}
          {events.feedback === "unavailable" ? " The feedback store is unavailable: events posted since the build are missing." : ""}
        </p>
        {events.hours.length ? <EventsChart hours={events.hours} counts={events.counts} /> : null}
      </section>
      <section className="panel" id="requests">
        <h3>Requests since start, by route</h3>
        <RequestsChart rows={requests} />
      </section>
      <section className="panel" id="cache">
        <h3>Cache</h3>
        {cache.enabled ? (
          <>
            <p>
              Hit ratio <strong id="hit-ratio">{percent(cache.hit_ratio)}</strong>{" "}
              <span className="muted">
                ({cache.hits} hits, {cache.misses} misses)
              </span>
            </p>
            <CacheChart hits={cache.hits} misses={cache.misses} />
          </>
        ) : (
          <p id="hit-ratio">The cache is off (CACHE_ENABLED=false): every answer is the model's.</p>
        )}
      </section>
      <section className="panel" id="latency">
        <h3>Latency of the recommendation routes</h3>
        <p>
          Median <strong>{latency.p50_ms ?? "–"} ms</strong>, 99th percentile <strong>{latency.p99_ms ?? "–"} ms</strong>
        </p>
        <LatencyChart buckets={latency.buckets} />
      </section>
    </div>
  );
}

function Rebuild() {
  const [status, setStatus] = useState("");
  const rebuild = async () => {
    const response = await fetch("/admin/reload", asAdmin({ method: "POST" }));
    const body = (await response.json()) as { status?: string; error?: { message: string } };
    setStatus(response.ok ? `Reload ${body.status}.` : `Reload refused: ${body.error?.message}`);
  };
  return (
    <>
      <h2>Rebuild the models</h2>
      <p>
        From the store's data, the feedback and the catalog changes, in the background:{" "}
        <button type="button" id="rebuild" onClick={rebuild}>
          Rebuild
        </button>
      </p>
      <p id="reload-status" className="muted">
        {status}
      </p>
    </>
  );
}
