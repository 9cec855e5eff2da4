import { Link, NavigateProvider, partsOf, usePath } from "./router";
import { Experiment } from "./pages/Experiment";
import { Overview } from "./pages/Overview";
import { Products } from "./pages/Products";
import { Users } from "./pages/Users";

const PAGES = [
  ["/console", "Overview"],
  ["/console/products", "Products"],
  ["/console/users", "Users"],
  ["/console/experiment", "Experiment"],
] as const;

export function App() {
  const [path, go] = usePath();
  const [section, id] = partsOf(path);
  const page =
    section === "products" ? (
      <Products key={path} productId={id} />
    ) : section === "users" ? (
      <Users key={path} userId={id} />
    ) : section === "experiment" ? (
      <Experiment />
    ) : (
      <Overview />
    );
  return (
    <NavigateProvider value={go}>
      <header>
        <h1>Recommendations</h1>
        <nav>
          {PAGES.map(([to, name]) => (
            <Link key={to} to={to} className={to.split("/")[2] === section ? "current" : undefined}>
              {name}
            </Link>
          ))}
        </nav>
      </header>
      <main id="page" aria-live="polite">
        {page}
      </main>
    </NavigateProvider>
  );
}
