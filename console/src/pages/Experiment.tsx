import { type ABReport, ServiceError, type Variant, asAdmin, getJSON } from "../api";
import { Failure, TokenForm } from "../components";
import { RateChart } from "../charts";
import { useLoad, useReady } from "../load";

const COLUMNS = ["users", "exposures", "clicks", "ctr", "click_rate", "conversions", "revenue", "lift", "p_value"] as const;

function format(value: unknown): string {
  if (value == null) return "–";
  if (typeof value === "number" && !Number.isInteger(value)) return value.toFixed(4);
  return String(value);
}

export function Experiment() {
  const [loaded, again] = useLoad(() => getJSON<ABReport>("/ab/report", asAdmin()), []);
  useReady(loaded.state !== "loading");
  const title = <h2>Experiment</h2>;
  if (loaded.state === "loading") return title;
  if (loaded.state === "failed") {
    if (loaded.error instanceof ServiceError && loaded.error.status === 401)
      return (
        <>
          {title}
          <TokenForm message="The report needs the admin token:" onToken={again} />
        </>
      );
    return (
      <>
        {title}
        <Failure error={loaded.error} />
      </>
    );
  }
  const report = loaded.value;
  const variants = Object.entries(report.variants) as [string, Variant][];
  return (
    <>
      {title}
      <p className="muted">
        Experiment {report.experiment}, since {report.since || "no exposure yet"}
      </p>
      <table id="report">
        <tbody>
          <tr>
            <th>variant</th>
            {COLUMNS.map((c) => (
              <th key={c}>{c}</th>
            ))}
          </tr>
          {variants.map(([name, row]) => (
            <tr key={name}>
              <td>{name + (name === report.control ? " (control)" : "")}</td>
              {COLUMNS.map((c) => (
                <td key={c}>{format(row[c])}</td>
              ))}
            </tr>
          ))}
        </tbody>
      </table>
      {report.warnings.map((warning) => (
        <p key={warning} className="warning">
          {warning}
        </p>
      ))}
      <h2>Click rate per variant, with its 95% interval</h2>
      <RateChart variants={variants} />
    </>
  );
}
