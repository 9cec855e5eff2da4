import { type FormEvent, useEffect, useRef, useState } from "react";
import { type Recommendations, type Result, STRATEGIES, ServiceError, type User, asAdmin, getJSON } from "../api";
import { Failure, ResultList, TokenForm } from "../components";
import { Ready, useLoad, useReady } from "../load";
import { Link, useNavigate } from "../router";

export function Users({ userId }: { userId?: string }) {
  const go = useNavigate();
  const [typed, setTyped] = useState(userId ?? "");
  const show = (event: FormEvent) => {
    event.preventDefault();
    go(`/console/users/${encodeURIComponent(typed.trim())}`);
  };
  return (
    <>
      <h2>Users</h2>
      <form onSubmit={show}>
        <input type="text" name="user" placeholder="user id" value={typed} onChange={(e) => setTyped(e.target.value)} />
        <button type="submit">Show</button>
      </form>
      {userId ? <Shopper key={userId} userId={userId} /> : <Ready />}
    </>
  );
}

type Lists = [string, Result[]][];

function Shopper({ userId }: { userId: string }) {
  const id = encodeURIComponent(userId);
  const [loaded, again] = useLoad(async () => {
    const user = await getJSON<User>(`/users/${id}`, asAdmin());
    const lists: Lists = await Promise.all(
      STRATEGIES.map((name) =>
        getJSON<Recommendations>(`/recommend/user/${id}?strategy=${name}&top_k=10&details=1`).then(
          (body): [string, Result[]] => [name, body.results],
        ),
      ),
    );
    return { user, lists };
  }, [id]);
  useReady(loaded.state === "failed"); // else the blend below says so, once it has its answer
  if (loaded.state === "loading") return null;
  if (loaded.state === "failed") {
    if (loaded.error instanceof ServiceError && loaded.error.status === 401)
      return <TokenForm message="A shopper's history needs the admin token:" onToken={again} />;
    return <Failure error={loaded.error} />;
  }
  const { user, lists } = loaded.value;
  return (
    <>
      <p>
        <span>A/B variant: </span>
        <strong id="variant">{user.variant}</strong>
        <span className="muted"> · {user.items} items</span>
      </p>
      <h2>Latest events</h2>
      <table id="history">
        <tbody>
          <tr>
            {["When", "Action", "Product", "From"].map((h) => (
              <th key={h}>{h}</th>
            ))}
          </tr>
          {user.events.map((event, i) => (
            <tr key={i}>
              <td>{event.ts.replace("T", " ").slice(0, 16)}</td>
              <td>{event.action}</td>
              <td>
                <Link to={`/console/products/${encodeURIComponent(event.product_id)}`}>{event.title || event.product_id}</Link>
              </td>
              <td className="muted">{event.source}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <h2>Each strategy's answer</h2>
      <div className="columns" id="strategies">
        {lists.map(([name, results]) => (
          <ResultList key={name} title={name} results={results} strategy={name} />
        ))}
      </div>
      <h2>Hybrid weights</h2>
      <Blend id={id} />
    </>
  );
}

/** The hybrid answer at the slider's weights, asked again as the slider moves. */
function Blend({ id }: { id: string }) {
  const [w, setW] = useState(0.5);
  const [results, setResults] = useState<Result[] | null>(null);
  const [error, setError] = useState<unknown>(null);
  const latest = useRef(0);
  useEffect(() => {
    const asked = ++latest.current;
    const url = `/recommend/hybrid?user_id=${id}&w_content=${w}&w_cf=${(1 - w).toFixed(2)}&top_k=10&details=1`;
    getJSON<Recommendations>(url).then(
      (body) => {
        if (asked !== latest.current) return;
        setError(null); // a failure of an earlier position no longer stands
        setResults(body.results);
      },
      (failure: unknown) => asked === latest.current && setError(failure),
    );
  }, [id, w]);
  useReady(results !== null || error !== null);
  return (
    <>
      <p>
        <input type="range" id="w-content" min="0" max="1" step="0.1" value={w} onChange={(e) => setW(Number(e.target.value))} />{" "}
        <span id="weights" className="muted">
          w_content {w.toFixed(1)} · w_cf {(1 - w).toFixed(1)}
        </span>
      </p>
      <div id="blend">{error ? <Failure error={error} /> : results ? <ResultList title="Hybrid at these weights" results={results} /> : null}</div>
    </>
  );
}
