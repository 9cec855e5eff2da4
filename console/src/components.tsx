import { type FormEvent, type ReactNode, useState } from "react";
import { type Listed, setToken } from "./api";
import { Link } from "./router";

export function money(price: number | null | undefined): string {
  return price == null ? "" : price.toFixed(2);
}

export function ProductItem({ result }: { result: Listed }) {
  const facts = [result.category, money(result.price)].filter(Boolean).join(" · ");
  return (
    <li className="item" data-product={result.product_id}>
      {result.img_url ? <img src={result.img_url} alt="" loading="lazy" /> : null}
      <span>
        <Link to={`/console/products/${encodeURIComponent(result.product_id)}`}>{result.title}</Link>
        {"new" in result && result.new ? <span className="new">new</span> : null}
        <br />
        <span className="muted">{facts}</span>
      </span>
    </li>
  );
}

export function ResultList({ title, results, id, strategy }: { title: string; results: Listed[]; id?: string; strategy?: string }) {
  return (
    <section className="list" id={id} data-strategy={strategy}>
      <h3>{title}</h3>
      <ol>
        {results.map((result) => (
          <ProductItem key={result.product_id} result={result} />
        ))}
        {results.length ? null : <li className="muted">nothing</li>}
      </ol>
    </section>
  );
}

/** Asks for the admin token, keeps it for the tab, then calls onToken. */
export function TokenForm({ message, onToken }: { message: string; onToken: () => void }) {
  const [value, setValue] = useState("");
  const submit = (event: FormEvent) => {
    event.preventDefault();
    setToken(value);
    onToken();
  };
  return (
    <form onSubmit={submit}>
      <span>{message}</span>
      <input type="password" name="token" placeholder="admin token" autoComplete="off" value={value} onChange={(e) => setValue(e.target.value)} />
      <button type="submit">Use token</button>
    </form>
  );
}

export function Failure({ error }: { error: unknown }) {
  const message = error instanceof Error ? error.message : String(error);
  return <p className="error">The service answered: {message}</p>;
}

export function Section({ title, children }: { title: string; children: ReactNode }) {
  return (
    <>
      <h2>{title}</h2>
      {children}
    </>
  );
}
