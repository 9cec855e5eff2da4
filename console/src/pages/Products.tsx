import { type FormEvent, useState } from "react";
import { type Product, type ProductList, type Recommendations, getJSON } from "../api";
import { Failure, ResultList, money } from "../components";
import { Ready, useLoad, useReady } from "../load";

export function Products({ productId }: { productId?: string }) {
  const [query, setQuery] = useState("");
  const [found, setFound] = useState<{ query: string; list: ProductList } | { error: unknown } | null>(null);
  const search = async (event: FormEvent) => {
    event.preventDefault();
    try {
      setFound({ query, list: await getJSON<ProductList>(`/products?q=${encodeURIComponent(query)}&limit=20`) });
    } catch (error) {
      setFound({ error });
    }
  };
  return (
    <>
      <h2>Products</h2>
      <form onSubmit={search}>
        <input type="search" name="q" placeholder="search titles" value={query} onChange={(e) => setQuery(e.target.value)} />
        <button type="submit">Search</button>
      </form>
      <div id="search-results">
        {found && "error" in found ? <Failure error={found.error} /> : null}
        {found && "list" in found ? <ResultList title={`Products matching “${found.query}”`} results={found.list.results} /> : null}
      </div>
      {productId ? <ProductCard productId={productId} /> : <Ready />}
    </>
  );
}

function ProductCard({ productId }: { productId: string }) {
  const id = encodeURIComponent(productId);
  const [loaded] = useLoad(
    () =>
      Promise.all([
        getJSON<Product>(`/products/${id}`),
        getJSON<Recommendations>(`/recommend/content/${id}?top_k=10&details=1`),
      ]),
    [id],
  );
  useReady(loaded.state !== "loading");
  if (loaded.state === "loading") return null;
  if (loaded.state === "failed") return <Failure error={loaded.error} />;
  const [product, similar] = loaded.value;
  return (
    <>
      <div className="card" id="product">
        {product.img_url ? <img src={product.img_url} alt="" /> : null}
        <div>
          <h2>{product.title}</h2>
          <p className="muted">
            {product.product_id} · {product.category || "no category"} · {money(product.price) || "no price"}
          </p>
          {product.available ? null : <p className="warning">Withdrawn: no answer shows it.</p>}
        </div>
      </div>
      <h2>Similar products</h2>
      <ResultList title="By their text" results={similar.results} id="similar" />
    </>
  );
}
