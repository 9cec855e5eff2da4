import { useState } from "react";
import { type Health, type Reload, asAdmin, getJSON } from "../api";
import { Failure, TokenForm } from "../components";
import { useLoad, useReady } from "../load";

export function Overview() {
  const [health] = useLoad(() => getJSON<Health>("/health"), []);
  const [status, setStatus] = useState("");
  useReady(health.state !== "loading");
  if (health.state === "loading") return <h2>Overview</h2>;
  if (health.state === "failed") return <Failure error={health.error} />;
  const h = health.value;
  const built = h.built ?? {};
  const reload = h.reload;
  const rows: [string, string][] = [
    ["Model version", h.model_version],
    ["Built", built.at ? `${built.at} in ${built.seconds} s` : "unknown"],
    ["Products", String(h.products)],
    ["Users", String(h.users)],
    ["Interactions", String(built.interactions ?? "unknown")],
    ["Ranker", h.ranker?.trained ? "trained" : `not trained: ${h.ranker?.reason}`],
    ["Cache", String(h.cache)],
    ["Feedback store", String(h.feedback_store)],
    ["Reload", (reload?.state ?? "unknown") + (reload?.error ? `: ${reload.error}` : "")],
  ];
  const rebuild = async () => {
    const response = await fetch("/admin/reload", asAdmin({ method: "POST" }));
    const body = (await response.json()) as Reload & { error?: { message: string } };
    setStatus(response.ok ? `Reload ${body.status}.` : `Reload refused: ${body.error?.message}`);
  };
  return (
    <>
      <h2>Overview</h2>
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
      <h2>Rebuild the models</h2>
      <TokenForm message="Rebuild from the store's data, the feedback and the catalog changes:" onToken={rebuild} />
      <p id="reload-status" className="muted">
        {status}
      </p>
    </>
  );
}
